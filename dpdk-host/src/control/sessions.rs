//! Simple drivers for accepted sessions, for when no publisher is plugged
//! in: each is a hook for the main lcore's loop (`host::ControlHook`).

use super::{ConnClosed, ConnId, ControlPlane};

/// Reads and discards what clients send and closes a session once its
/// client closed it, so that finished sessions free their slots.
pub fn discard() -> impl FnMut(&mut ControlPlane<'_, '_>, u64) {
    let mut sessions: Vec<ConnId> = Vec::new();
    let mut buf = vec![0u8; 4096];
    move |cp, _now| {
        sessions.extend(cp.accepted());
        sessions.retain(|&c| loop {
            match cp.recv(c, &mut buf) {
                Ok(0) => break true,
                Ok(_) => {}
                Err(ConnClosed) => {
                    cp.close(c);
                    break false;
                }
            }
        });
    }
}

/// Sends back what clients send, byte for byte, and closes a session once
/// its client closed it and everything was echoed. Reads only what the TX
/// buffer can take, so nothing is ever dropped: a client that does not read
/// is slowed down by TCP flow control.
pub fn echo() -> impl FnMut(&mut ControlPlane<'_, '_>, u64) {
    let mut sessions: Vec<ConnId> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    move |cp, _now| {
        sessions.extend(cp.accepted());
        sessions.retain(|&c| loop {
            let room = cp.send_capacity(c).min(buf.len());
            if room == 0 {
                if cp.is_open(c) {
                    break true;
                }
                break false;
            }
            match cp.recv(c, &mut buf[..room]) {
                Ok(0) => break true,
                // `n <= room`, the free TX space: all of it is accepted.
                Ok(n) => match cp.send(c, &buf[..n]) {
                    Ok(_) => {}
                    Err(ConnClosed) => break false,
                },
                Err(ConnClosed) => {
                    cp.close(c);
                    break false;
                }
            }
        });
    }
}
