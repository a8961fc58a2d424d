//! An https server on loopback with a self-signed certificate (openssl makes the pair, python's `ssl`
//! serves): what a test needs to see how a client treats TLS it cannot verify. Every request gets the same
//! answer.

use std::{
    io::BufRead,
    path::Path,
    process::{Child, Command, Stdio},
};

/// A running server; stopped when dropped.
pub struct SelfSigned {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server answering every request with `status`, `headers` and the JSON `body`.
pub fn serve(status: u16, headers: &[(&str, &str)], body: &str) -> SelfSigned {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (key, cert) = make_pair(dir.path());
    let headers: Vec<String> = headers.iter().map(|(k, v)| format!("self.send_header({k:?}, {v:?})")).collect();
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def answer(self):\n\
         \x20       b = {body:?}.encode()\n\
         \x20       self.send_response({status}); self.send_header('content-type', 'application/json')\n\
         \x20       {extra}\n\
         \x20       self.send_header('content-length', str(len(b))); self.end_headers()\n\
         \x20       if self.command != 'HEAD': self.wfile.write(b)\n\
         \x20   do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', 0), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain({cert:?}, {key:?})\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         print(s.server_address[1], flush=True)\n\
         s.serve_forever()\n",
        extra = if headers.is_empty() { "pass".to_owned() } else { headers.join("; ") },
        cert = cert.display().to_string(),
        key = key.display().to_string(),
    );
    let mut child = Command::new("python3").args(["-c", &script]).stdout(Stdio::piped()).spawn().expect("python3 runs");
    let mut port = String::new();
    std::io::BufReader::new(child.stdout.take().expect("its stdout")).read_line(&mut port).expect("its port");
    SelfSigned { url: format!("https://127.0.0.1:{}", port.trim()), child, _dir: dir }
}

fn make_pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    (key, cert)
}
