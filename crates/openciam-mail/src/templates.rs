//! Message templates: embedded defaults (`templates/*.txt|*.html`, compiled into the binary) and
//! optional override files, parsed and checked once at start-up.
//!
//! The syntax is deliberately tiny: `{{name}}` (spaces inside the braces allowed) inserts a value;
//! everything else is literal. Each template may only use the placeholders its message has, and
//! code messages must show `{{code}}` in both bodies, so a typo fails the start instead of sending
//! a message without its code.
//!
//! Invariants when rendering, whatever the values contain:
//! * control characters (CR, LF, NUL, …) in inserted values are dropped in every part, so a value
//!   can never start a new header line, and a rendered subject is always one line;
//! * in HTML every inserted value is escaped (`& < > " '`), so it cannot add markup or leave an
//!   attribute.

use crate::config::{TemplateFiles, TemplatesConfig};
use anyhow::{Context as _, bail};
use std::path::Path;

/// A value a template can insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Var {
    /// The one-time code.
    Code,
    /// The (tenant's) product name.
    ProductName,
    /// Minutes until the code expires.
    ExpiresInMinutes,
    /// The recipient's address.
    Email,
}

impl Var {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "code" => Some(Self::Code),
            "product_name" => Some(Self::ProductName),
            "expires_in_minutes" => Some(Self::ExpiresInMinutes),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::ProductName => "product_name",
            Self::ExpiresInMinutes => "expires_in_minutes",
            Self::Email => "email",
        }
    }
}

/// Values for one rendering. A placeholder whose value is absent renders empty (validation keeps
/// templates from using placeholders their message has no value for).
#[derive(Debug, Default)]
pub(crate) struct Values<'a> {
    pub(crate) code: Option<&'a str>,
    pub(crate) product_name: &'a str,
    pub(crate) expires_in_minutes: Option<u32>,
    pub(crate) email: &'a str,
}

impl Values<'_> {
    fn get(&self, var: Var) -> String {
        match var {
            Var::Code => self.code.unwrap_or_default().to_owned(),
            Var::ProductName => self.product_name.to_owned(),
            Var::ExpiresInMinutes => self.expires_in_minutes.map(|m| m.to_string()).unwrap_or_default(),
            Var::Email => self.email.to_owned(),
        }
    }
}

/// Which part of a message a template is for; decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The `Subject:` header: one line.
    Subject,
    /// The text/plain body.
    Text,
    /// The text/html body.
    Html,
}

impl Part {
    const ALL: [Self; 3] = [Self::Subject, Self::Text, Self::Html];

    fn name(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Text => "text",
            Self::Html => "html",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Var(Var),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    part: Part,
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `src` for `part`. Errors name the problem, not the file (the caller adds that).
    pub(crate) fn parse(src: &str, part: Part) -> anyhow::Result<Self> {
        let src = if part == Part::Subject {
            src.trim_end_matches(['\r', '\n'])
        } else {
            src
        };
        if part == Part::Subject && src.chars().any(char::is_control) {
            bail!("a subject must be a single line without control characters");
        }
        let mut segments = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").context("`{{` without a closing `}}`")?;
            let name = after[..end].trim();
            let var = Var::parse(name).with_context(|| {
                format!(
                    "unknown placeholder {{{{{name}}}}} (known: code, product_name, expires_in_minutes, email)"
                )
            })?;
            segments.push(Segment::Var(var));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            bail!("`}}}}` without an opening `{{{{`");
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Self { part, segments })
    }

    fn uses(&self, var: Var) -> bool {
        self.segments.contains(&Segment::Var(var))
    }

    fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Var(v) => Some(*v),
            Segment::Literal(_) => None,
        })
    }

    /// Renders with `values`, escaping them for this template's part.
    pub(crate) fn render(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Var(var) => {
                    let value = strip_controls(&values.get(*var));
                    match self.part {
                        Part::Html => escape_html_into(&value, &mut out),
                        Part::Subject | Part::Text => out.push_str(&value),
                    }
                }
            }
        }
        if self.part == Part::Subject {
            // Literals were checked at parse time and values stripped above; this is the last guard
            // that a subject is a single header line.
            return strip_controls(&out).trim().to_owned();
        }
        out
    }
}

/// Drops control characters (CR, LF, tab, NUL, DEL, C1 controls).
pub(crate) fn strip_controls(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

/// HTML-escapes `value` for text and quoted attribute contexts. Five characters suffice for both,
/// so this is written out rather than pulled in as a dependency.
fn escape_html_into(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// The messages openciam sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateKind {
    SignupCode,
    SigninCode,
    ResetCode,
    PasswordChanged,
    SignupAttempt,
    Test,
}

impl TemplateKind {
    const ALL: [Self; 6] = [
        Self::SignupCode,
        Self::SigninCode,
        Self::ResetCode,
        Self::PasswordChanged,
        Self::SignupAttempt,
        Self::Test,
    ];

    /// The key under `[mail.templates]`.
    fn name(self) -> &'static str {
        match self {
            Self::SignupCode => "signup_code",
            Self::SigninCode => "signin_code",
            Self::ResetCode => "reset_code",
            Self::PasswordChanged => "password_changed",
            Self::SignupAttempt => "signup_attempt",
            Self::Test => "test",
        }
    }

    fn is_code(self) -> bool {
        matches!(self, Self::SignupCode | Self::SigninCode | Self::ResetCode)
    }

    fn allowed(self, var: Var) -> bool {
        self.is_code() || matches!(var, Var::ProductName | Var::Email)
    }

    /// Embedded (subject, text, html).
    fn embedded(self) -> [&'static str; 3] {
        macro_rules! embedded {
            ($name:literal) => {
                [
                    include_str!(concat!("../templates/", $name, ".subject.txt")),
                    include_str!(concat!("../templates/", $name, ".txt")),
                    include_str!(concat!("../templates/", $name, ".html")),
                ]
            };
        }
        match self {
            Self::SignupCode => embedded!("signup_code"),
            Self::SigninCode => embedded!("signin_code"),
            Self::ResetCode => embedded!("reset_code"),
            Self::PasswordChanged => embedded!("password_changed"),
            Self::SignupAttempt => embedded!("signup_attempt"),
            Self::Test => embedded!("test"),
        }
    }

    fn overrides(self, config: &TemplatesConfig) -> Option<&TemplateFiles> {
        match self {
            Self::SignupCode => config.signup_code.as_ref(),
            Self::SigninCode => config.signin_code.as_ref(),
            Self::ResetCode => config.reset_code.as_ref(),
            Self::PasswordChanged => config.password_changed.as_ref(),
            Self::SignupAttempt => config.signup_attempt.as_ref(),
            Self::Test => config.test.as_ref(),
        }
    }
}

/// Subject, text and HTML of one message.
#[derive(Debug, Clone)]
pub(crate) struct MessageTemplates {
    pub(crate) subject: Template,
    pub(crate) text: Template,
    pub(crate) html: Template,
}

/// Every message's templates, validated.
#[derive(Debug, Clone)]
pub(crate) struct TemplateSet {
    by_kind: Vec<MessageTemplates>,
}

impl TemplateSet {
    /// Embedded templates, with the override files in `config` read and checked.
    pub(crate) fn load(config: &TemplatesConfig) -> anyhow::Result<Self> {
        let by_kind = TemplateKind::ALL
            .iter()
            .map(|&kind| load_kind(kind, kind.overrides(config)))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { by_kind })
    }

    pub(crate) fn get(&self, kind: TemplateKind) -> &MessageTemplates {
        // `by_kind` is built from `TemplateKind::ALL` in order.
        &self.by_kind[kind as usize]
    }
}

fn load_kind(kind: TemplateKind, files: Option<&TemplateFiles>) -> anyhow::Result<MessageTemplates> {
    let [subject, text, html] = Part::ALL.map(|part| {
        let file = files.and_then(|f| match part {
            Part::Subject => f.subject.as_deref(),
            Part::Text => f.text.as_deref(),
            Part::Html => f.html.as_deref(),
        });
        load_part(kind, part, file)
    });
    Ok(MessageTemplates {
        subject: subject?,
        text: text?,
        html: html?,
    })
}

fn load_part(kind: TemplateKind, part: Part, file: Option<&Path>) -> anyhow::Result<Template> {
    let setting = format!("mail.templates.{}.{}", kind.name(), part.name());
    // `Part` is declared in the order of `embedded()`'s array.
    let embedded = kind.embedded()[part as usize];
    let (src, origin) = match file {
        Some(path) => {
            let src = std::fs::read_to_string(path)
                .with_context(|| format!("{setting}: reading {}", path.display()))?;
            (src, path.display().to_string())
        }
        None => (embedded.to_owned(), "embedded template".to_owned()),
    };
    let template = Template::parse(&src, part).with_context(|| format!("{setting} ({origin})"))?;
    check_placeholders(kind, &template).with_context(|| format!("{setting} ({origin})"))?;
    Ok(template)
}

fn check_placeholders(kind: TemplateKind, template: &Template) -> anyhow::Result<()> {
    if let Some(var) = template.vars().find(|v| !kind.allowed(*v)) {
        bail!("placeholder {{{{{}}}}} has no value in this message", var.name());
    }
    if kind.is_code() && template.part != Part::Subject && !template.uses(Var::Code) {
        bail!("a code message must contain {{{{code}}}}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            code: Some("123456"),
            product_name: "Contoso",
            expires_in_minutes: Some(10),
            email: "a@b.com",
        }
    }

    #[test]
    fn placeholders_are_substituted() {
        let t = Template::parse(
            "{{code}} for {{ product_name }} ({{expires_in_minutes}} min, {{email}})",
            Part::Text,
        )
        .unwrap();
        assert_eq!(t.render(&values()), "123456 for Contoso (10 min, a@b.com)");
    }

    #[test]
    fn html_values_are_escaped_but_literals_are_not() {
        let t = Template::parse("<b>{{product_name}}</b> <a title=\"{{email}}\">x</a>", Part::Html).unwrap();
        let v = Values {
            product_name: "<script>alert('x')</script> & co",
            email: "\"><img>",
            ..values()
        };
        assert_eq!(
            t.render(&v),
            "<b>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co</b> \
             <a title=\"&quot;&gt;&lt;img&gt;\">x</a>"
        );
    }

    #[test]
    fn text_values_keep_markup_but_lose_controls() {
        let t = Template::parse("code: {{code}}\n", Part::Text).unwrap();
        let v = Values {
            code: Some("<1>\r\n2\u{0}3"),
            ..values()
        };
        assert_eq!(t.render(&v), "code: <1>23\n");
    }

    #[test]
    fn subjects_never_contain_line_breaks() {
        let t = Template::parse("Code {{code}} for {{email}}\n", Part::Subject).unwrap();
        let v = Values {
            code: Some("1\r\nBcc: evil@x.com"),
            email: "a@b.com\nX-Evil: 1",
            ..values()
        };
        let s = t.render(&v);
        assert_eq!(s, "Code 1Bcc: evil@x.com for a@b.comX-Evil: 1");
        assert!(!s.contains(['\r', '\n']));
    }

    #[test]
    fn multi_line_subject_templates_are_refused() {
        assert!(Template::parse("one\ntwo", Part::Subject).is_err());
        assert!(Template::parse("one\r\n", Part::Subject).is_ok());
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        assert!(Template::parse("{{code", Part::Text).is_err());
        assert!(Template::parse("code}}", Part::Text).is_err());
        assert!(Template::parse("{{cod}}", Part::Text).is_err());
    }

    #[test]
    fn embedded_templates_are_valid() {
        let set = TemplateSet::load(&TemplatesConfig::default()).unwrap();
        let m = set.get(TemplateKind::SigninCode);
        assert!(m.text.render(&values()).contains("123456"));
        assert!(m.html.render(&values()).contains("123456"));
        assert_eq!(m.subject.render(&values()), "Your Contoso sign-in code");
    }

    #[test]
    fn code_overrides_must_show_the_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signup.txt");
        std::fs::write(&path, "Welcome to {{product_name}}").unwrap();
        let files = TemplateFiles {
            text: Some(path),
            ..Default::default()
        };
        let config = TemplatesConfig {
            signup_code: Some(files),
            ..Default::default()
        };
        let err = format!("{:#}", TemplateSet::load(&config).unwrap_err());
        assert!(err.contains("mail.templates.signup_code.text"), "{err}");
        assert!(err.contains("{{code}}"), "{err}");
    }

    #[test]
    fn notices_cannot_use_a_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changed.html");
        std::fs::write(&path, "<p>{{code}}</p>").unwrap();
        let files = TemplateFiles {
            html: Some(path),
            ..Default::default()
        };
        let config = TemplatesConfig {
            password_changed: Some(files),
            ..Default::default()
        };
        let err = format!("{:#}", TemplateSet::load(&config).unwrap_err());
        assert!(err.contains("has no value"), "{err}");
    }

    #[test]
    fn unreadable_override_names_the_setting() {
        let files = TemplateFiles {
            subject: Some("/nonexistent/subject.txt".into()),
            ..Default::default()
        };
        let config = TemplatesConfig {
            test: Some(files),
            ..Default::default()
        };
        let err = format!("{:#}", TemplateSet::load(&config).unwrap_err());
        assert!(err.contains("mail.templates.test.subject"), "{err}");
    }

    #[test]
    fn overrides_replace_only_their_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subject.txt");
        std::fs::write(&path, "[{{product_name}}] {{code}}\n").unwrap();
        let files = TemplateFiles {
            subject: Some(path),
            ..Default::default()
        };
        let config = TemplatesConfig {
            reset_code: Some(files),
            ..Default::default()
        };
        let set = TemplateSet::load(&config).unwrap();
        let m = set.get(TemplateKind::ResetCode);
        assert_eq!(m.subject.render(&values()), "[Contoso] 123456");
        assert!(m.text.render(&values()).contains("reset the password"));
    }
}
