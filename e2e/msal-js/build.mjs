// Bundles src/app.js (and the pinned @azure/msal-browser) into dist/app.js for index.html.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildBundle() {
    await build({
        entryPoints: [path.join(here, "src", "app.js")],
        outfile: path.join(here, "dist", "app.js"),
        bundle: true,
        format: "iife",
        platform: "browser",
        target: ["chrome110"],
        sourcemap: "inline",
        logLevel: "warning",
    });
    return path.join(here, "dist", "app.js");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const out = await buildBundle();
    console.log(`built ${path.relative(process.cwd(), out)}`);
}
