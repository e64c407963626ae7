//! A live network with its entrance serving: what `p2psim live up` runs
//! and what the tests drive.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::gateway::Gateway;
use crate::network::{LiveError, LiveNetwork, Stopped};
use crate::plan::LiveSpec;

/// A network whose entrance is serving.
pub struct Running {
    /// The network.
    pub net: LiveNetwork,
    /// Where the entrance listens.
    pub addr: SocketAddr,
    server: JoinHandle<()>,
    shutdown: oneshot::Sender<()>,
}

/// Starts the network of `spec` and serves its entrance on `spec.listen`;
/// a turn with no outcome after `turn_timeout` is answered with 504.
pub async fn up(spec: &LiveSpec, turn_timeout: Duration) -> Result<Running, LiveError> {
    let listener = tokio::net::TcpListener::bind(spec.listen)
        .await
        .map_err(|source| LiveError::Bind {
            addr: spec.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| LiveError::Bind {
        addr: spec.listen,
        source,
    })?;
    let mut net = LiveNetwork::start(spec).await?;
    let gateway = Gateway::new(&mut net, turn_timeout).ok_or(LiveError::NoClients)?;
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, gateway.router())
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("the entrance stopped: {e}");
        }
    });
    Ok(Running {
        net,
        addr,
        server,
        shutdown,
    })
}

impl Running {
    /// The entrance's base URL (`http://ADDR/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops taking requests, lets open ones finish, then stops the
    /// nodes and checks the books.
    pub async fn down(self) -> Stopped {
        let _ = self.shutdown.send(());
        let _ = self.server.await;
        self.net.stop().await
    }
}
