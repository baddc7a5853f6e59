//! The request side of the tests' fake HTTP servers (the chat-completions fakes): one
//! HTTP/1.1 request read off a connection, its body by `Content-Length`.

use std::io::BufRead;

/// One request as a fake server needs it.
pub struct Request {
    pub method: String,
    pub path: String,
    /// The `Authorization` header's value, when sent.
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// Reads the next request; `None` when the connection ends (or times out) before a whole one.
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_owned());
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        authorization,
        body,
    })
}
