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
    /// Its port.
    pub port: u16,
    /// The test CA that signed its certificate (PEM): trust it to verify the server.
    pub ca_pem: Vec<u8>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server answering every request with `status`, `headers` and the JSON `body`, its certificate
/// for `127.0.0.1` and `localhost`.
pub fn serve(status: u16, headers: &[(&str, &str)], body: &str) -> SelfSigned {
    serve_as("localhost", status, headers, body)
}

/// [`serve`], its certificate also naming `name` (reach it with a resolve override).
pub fn serve_as(name: &str, status: u16, headers: &[(&str, &str)], body: &str) -> SelfSigned {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (key, cert, ca) = make_pair(dir.path(), name);
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
    let port: u16 = port.trim().parse().expect("a port");
    let ca_pem = std::fs::read(ca).expect("the CA");
    SelfSigned { url: format!("https://127.0.0.1:{port}"), port, ca_pem, child, _dir: dir }
}

/// A test CA and a server certificate it signed for `name`, `localhost` and `127.0.0.1`: (key, cert, ca).
fn make_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let path = |file: &str| dir.join(file);
    let run = |args: &[&str]| {
        let made = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(made.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&made.stderr));
    };
    run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=offinfra test CA"]
        .iter()
        .copied()
        .chain(["-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE"])
        .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    let extensions = format!(
        "subjectAltName=DNS:{name},DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    );
    std::fs::write(path("leaf.ext"), extensions).expect("the extensions file");
    run(&["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1"]
        .iter()
        .copied()
        .chain(["-out", "cert.pem", "-extfile", "leaf.ext"])
        .collect::<Vec<_>>());
    (path("key.pem"), path("cert.pem"), path("ca.pem"))
}
