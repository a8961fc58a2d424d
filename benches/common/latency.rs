//! A latency proxy on loopback: every byte is delivered `delay` after it was read, in each direction, with
//! no limit on throughput (each read is queued with its time, a writer thread sends it when due). It
//! stands in for a link to a distant registry (ghcr.io from a runner far away) without leaving loopback.

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

/// Starts the proxy in front of `upstream` (`host:port`); returns its `127.0.0.1:PORT`. Runs until the
/// bench process ends.
pub fn start(upstream: &str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_owned();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else { continue };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), delay);
            pipe(server, client, delay);
        }
    });
    address
}

/// `from` → `to`, each read delivered `delay` after it arrived.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (send, receive) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    thread::spawn(move || {
        for (due, bytes) in receive {
            thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                return;
            }
        }
        thread::sleep(delay);
        let _ = to.shutdown(Shutdown::Write);
    });
}
