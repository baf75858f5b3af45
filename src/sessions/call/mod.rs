//! The video and audio call of a session room, browser to browser (WebRTC):
//! media never passes through the server. The server relays the signalling
//! (offer, answer, ICE candidates, hang-up) between the session's two
//! participants only while the call may run, stores it in order, and announces
//! each message with LISTEN/NOTIFY (ids only), so the two browsers may be served
//! by different app instances. It also hands out the ICE servers, with TURN
//! credentials issued per session and short-lived.
//!
//! The browser side is `public/call.js`, loaded by the room page of a plan that
//! includes the call (see [`view::CallPanel`]).

pub mod view;

#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod signals;
#[cfg(feature = "ssr")]
pub mod turn;

use serde::{Deserialize, Serialize};

/// What a signalling message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A browser joined the call (a new page, or "Rejoin").
    Hello,
    /// The answer to a hello: "I am here too".
    Welcome,
    Offer,
    Answer,
    Candidate,
    /// The answering side asks the offering side for an ICE restart.
    Restart,
    /// Hung up.
    Bye,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Hello => "hello",
            SignalKind::Welcome => "welcome",
            SignalKind::Offer => "offer",
            SignalKind::Answer => "answer",
            SignalKind::Candidate => "candidate",
            SignalKind::Restart => "restart",
            SignalKind::Bye => "bye",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hello" => SignalKind::Hello,
            "welcome" => SignalKind::Welcome,
            "offer" => SignalKind::Offer,
            "answer" => SignalKind::Answer,
            "candidate" => SignalKind::Candidate,
            "restart" => SignalKind::Restart,
            "bye" => SignalKind::Bye,
            _ => return None,
        })
    }
}

/// A signalling message as the other side receives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallSignal {
    pub seq: i64,
    pub kind: SignalKind,
    pub payload: serde_json::Value,
}

/// The largest signalling message accepted (an SDP with many codecs is ~10 KB).
pub const MAX_SIGNAL_BYTES: usize = 64 * 1024;
/// Signalling messages one session may send in all (ICE restarts included).
pub const MAX_SIGNALS_PER_SESSION: i64 = 5000;

/// One ICE server, as `RTCPeerConnection` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What a participant's browser needs to set up its peer connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceConfig {
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    /// `all`, or `relay` to use the TURN relay only.
    #[serde(rename = "iceTransportPolicy")]
    pub ice_transport_policy: String,
    /// When the TURN credentials stop working (Unix seconds), if any were issued.
    pub expires_at: Option<i64>,
}
