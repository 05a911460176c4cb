//! [`TcpProxy`]: a TCP relay on 127.0.0.1 between the server and one of its dependencies
//! (PostgreSQL, an SMTP relay), which a test can cut, stall and restore to simulate an outage.
//!
//! * [`TcpProxy::cut`]: every open connection is dropped and new ones are refused (the listening
//!   socket is closed, so a connect gets `ECONNREFUSED`);
//! * [`TcpProxy::stall`]: new connections are accepted and then never answered (a hung peer);
//!   open ones are dropped;
//! * [`TcpProxy::restore`]: the same port relays again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Relay bytes both ways.
    Forward,
    /// Refuse connections; drop open ones.
    Cut,
    /// Accept connections and never send or forward a byte; drop open ones.
    Stall,
}

/// A running proxy; stops when dropped.
pub struct TcpProxy {
    /// The proxy's own address (give this to the server).
    pub addr: SocketAddr,
    upstream: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl TcpProxy {
    /// Starts relaying from a free port on 127.0.0.1 to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(ProxyMode::Forward);
        let proxy = Arc::new(Self {
            addr,
            upstream,
            mode,
            acceptor: Mutex::new(None),
        });
        proxy.listen(listener);
        proxy
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.mode.borrow()
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.mode.send_replace(ProxyMode::Cut);
        if let Some(task) = self.acceptor.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Drops every connection; new ones are accepted and left hanging.
    pub async fn stall(self: &Arc<Self>) {
        self.mode.send_replace(ProxyMode::Stall);
        self.ensure_listening().await;
    }

    /// Relays again, on the same port.
    pub async fn restore(self: &Arc<Self>) {
        self.mode.send_replace(ProxyMode::Forward);
        self.ensure_listening().await;
    }

    async fn ensure_listening(self: &Arc<Self>) {
        if self.acceptor.lock().unwrap().is_some() {
            return;
        }
        // The port was closed by `cut`; take it again (retrying while the kernel frees it).
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.listen(listener);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("cannot listen on {} again", self.addr);
    }

    fn listen(self: &Arc<Self>, listener: TcpListener) {
        let upstream = self.upstream;
        let modes = self.mode.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mut modes = modes.clone();
                let mode = *modes.borrow_and_update();
                tokio::spawn(async move {
                    match mode {
                        ProxyMode::Cut => drop(client),
                        ProxyMode::Stall => {
                            // Hold the socket silently until the mode changes.
                            let _ = modes.changed().await;
                            drop(client);
                        }
                        ProxyMode::Forward => relay(client, upstream, modes).await,
                    }
                });
            }
        });
        *self.acceptor.lock().unwrap() = Some(task);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.mode.send_replace(ProxyMode::Cut);
        if let Ok(mut acceptor) = self.acceptor.lock()
            && let Some(task) = acceptor.take()
        {
            task.abort();
        }
    }
}

/// Relays until either side closes or the mode changes (then both sockets are dropped).
async fn relay(mut client: TcpStream, upstream: SocketAddr, mut modes: watch::Receiver<ProxyMode>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = modes.changed() => {}
    }
}
