//! The shared client against wiremock: retries, rate limits, pagination, errors.

use std::time::Duration;

use offinfra_http::{Auth, Client, Error, Request, RetryPolicy};
use wiremock::{
    matchers::{header, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

async fn client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .auth(Auth::Bearer("t0ken".into()))
        .retry(offinfra_test_support::fast_retry())
        .build()
        .unwrap()
}

#[tokio::test]
async fn idempotent_requests_retry_server_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .and(header("authorization", "Bearer t0ken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    let value: serde_json::Value = client(&server).await.json(&Request::get("/flaky")).await.unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn posts_are_not_repeated_after_a_server_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/create"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let err = client(&server).await.execute(&Request::post("/create")).await.unwrap_err();
    let Error::Api(api) = &err else { panic!("{err}") };
    assert_eq!((api.status, api.body.as_str(), api.message.as_deref()), (502, "<html>bad gateway</html>", None));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn rate_limits_wait_for_the_server() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/slow")).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    let started = std::time::Instant::now();
    client(&server).await.execute(&Request::post("/slow")).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.received_requests().await.unwrap().len(), 2, "a 429 was not acted upon: safe to repeat");

    // GitHub's exhausted limit: 403 with x-ratelimit-remaining 0 and a reset in the past.
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1000")
                .set_body_json(serde_json::json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    let v: Vec<u8> = client(&server).await.json(&Request::get("/limited")).await.unwrap();
    assert!(v.is_empty());

    // A permission 403 is final, with the server's message.
    Mock::given(method("GET"))
        .and(path("/forbidden"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(serde_json::json!({"message": "Must have admin rights"})),
        )
        .mount(&server)
        .await;
    let err = client(&server).await.execute(&Request::get("/forbidden")).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().ends_with("HTTP 403: Must have admin rights"), "{err}");
}

#[tokio::test]
async fn pagination_follows_the_servers_links() {
    let server = MockServer::start().await;
    let next = format!(
        "<{}/items?page=2&per_page=2>; rel=\"next\", <{}/items?page=2&per_page=2>; rel=\"last\"",
        server.uri(),
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(query_param("per_page", "2"))
        .and(wiremock::matchers::query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!([1, 2])).insert_header("link", next.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(query_param("page", "2"))
        .and(header("authorization", "Bearer t0ken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([3])))
        .mount(&server)
        .await;
    let c = client(&server).await;
    let all: Vec<u32> = c.all_pages(Request::get("/items").query("per_page", "2"), None).await.unwrap();
    assert_eq!(all, [1, 2, 3]);
    let two: Vec<u32> = c.all_pages(Request::get("/items").query("per_page", "2"), Some(2)).await.unwrap();
    assert_eq!(two, [1, 2]);
}

#[tokio::test]
async fn transport_errors_name_the_request() {
    // Nothing listens on this port once the listener is dropped.
    let uri = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let c = Client::builder(&uri).retry(RetryPolicy::none()).build().unwrap();
    let err = c.execute(&Request::get("/x")).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("GET {uri}/x")), "{err}");
}

#[tokio::test]
async fn html_where_json_was_expected_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/repos/lookup/a/b"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("<!doctype html><html>woodpecker</html>", "text/html; charset=utf-8"),
        )
        .mount(&server)
        .await;
    let err =
        client(&server).await.json::<serde_json::Value>(&Request::get("/api/repos/lookup/a/b")).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(err.to_string().contains("expected JSON, got text/html"), "{err}");
}

#[tokio::test]
async fn page_numbers_stop_at_the_total_or_a_short_page() {
    use futures_util::TryStreamExt;
    use offinfra_http::PageNumbers;
    let server = MockServer::start().await;
    for (page, items) in
        [("1", serde_json::json!([1, 2])), ("2", serde_json::json!([3, 4])), ("3", serde_json::json!([5]))]
    {
        Mock::given(method("GET"))
            .and(path("/tags"))
            .and(query_param("page", page))
            .and(query_param("limit", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items).insert_header("x-total-count", "5"))
            .mount(&server)
            .await;
    }
    // Woodpecker-style: no total, a short page ends it.
    for (page, items) in [("1", serde_json::json!([1, 2])), ("2", serde_json::json!([3]))] {
        Mock::given(method("GET"))
            .and(path("/pipelines"))
            .and(query_param("page", page))
            .and(query_param("perPage", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(items))
            .mount(&server)
            .await;
    }
    let c = client(&server).await;
    let forgejo = PageNumbers { size: 2, ..PageNumbers::FORGEJO };
    let all: Vec<u32> = c.collect_pages(&Request::get("/tags"), &forgejo, None).await.unwrap();
    assert_eq!(all, [1, 2, 3, 4, 5]);
    let three: Vec<u32> = c.collect_pages(&Request::get("/tags"), &forgejo, Some(3)).await.unwrap();
    assert_eq!(three, [1, 2, 3]);
    let woodpecker = PageNumbers { size: 2, ..PageNumbers::WOODPECKER };
    let streamed: Vec<u32> = c.page_stream::<u32>(Request::get("/pipelines"), woodpecker).try_collect().await.unwrap();
    assert_eq!(streamed, [1, 2, 3]);
    let pages_asked = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/tags").count();
    assert_eq!(pages_asked, 3 + 2, "no page past the total, none past the limit");
}

/// A log writer into a shared buffer, for asserting what the client logs.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_and_retry_is_logged_without_the_query_or_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/logged-flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/logged-flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    // Global, because tracing caches per call site whether anyone listens, across the test threads; the
    // other tests of this binary log into the buffer too, so only this test's path is counted.
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("offinfra_http=debug"))
        .with_writer(move || writer.clone())
        .without_time()
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only test that sets a subscriber");

    let target = format!("{}/logged-flaky?access_token=SECRET-IN-QUERY", server.uri());
    let _: serde_json::Value = client(&server).await.json(&Request::get(target)).await.unwrap();

    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("/logged-flaky")).collect();
    assert_eq!(ours.iter().filter(|l| l.contains("request") && l.contains("GET")).count(), 2, "{log}");
    let retry = ours.iter().find(|l| l.contains("retrying after the answer")).unwrap_or_else(|| panic!("{log}"));
    assert!(retry.contains("status=503") && retry.contains("delay_ms="), "{retry}");
    assert!(ours.iter().any(|l| l.contains("answer") && l.contains("status=200")), "{log}");
    assert!(!log.contains("SECRET-IN-QUERY") && !log.contains("t0ken"), "{log}");
}

/// Every header of every request `server` received, lower-cased `name: value` lines.
async fn seen_headers(server: &MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .flat_map(|r| r.headers.iter().map(|(n, v)| format!("{}: {}", n.as_str(), v.to_str().unwrap_or("?"))))
        .collect()
}

#[tokio::test]
async fn credentials_never_follow_a_page_or_a_target_to_another_origin() {
    let (home, elsewhere) = (MockServer::start().await, MockServer::start().await);
    let next = format!("<{}/items?page=2>; rel=\"next\"", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(header("authorization", "Bearer t0ken"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!([1])).insert_header("link", next.as_str()),
        )
        .mount(&home)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([2])))
        .mount(&elsewhere)
        .await;
    Mock::given(method("GET")).and(path("/abs")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
    let client = client(&home).await;
    let items: Vec<u32> = client.all_pages(Request::get("/items"), None).await.unwrap();
    assert_eq!(items, [1, 2], "the page on the other origin is still read");
    let sensitive = offinfra_http::header::HeaderValue::from_static("Bearer from-the-caller");
    let absolute =
        Request::get(format!("{}/abs", elsewhere.uri())).header(offinfra_http::header::AUTHORIZATION, sensitive);
    client.execute(&absolute).await.unwrap();
    let seen = seen_headers(&elsewhere).await;
    assert_eq!(elsewhere.received_requests().await.unwrap().len(), 2);
    assert!(!seen.iter().any(|h| h.starts_with("authorization") || h.contains("t0ken")), "{seen:?}");
}

#[tokio::test]
async fn a_header_credential_stays_on_its_origin_across_redirects() {
    let (home, elsewhere) = (MockServer::start().await, MockServer::start().await);
    let client = Client::builder(home.uri())
        .auth(Auth::Header {
            name: offinfra_http::header::HeaderName::from_static("x-vault-token"),
            value: "s3cret".into(),
        })
        .retry(offinfra_test_support::fast_retry())
        .build()
        .unwrap();
    Mock::given(method("GET"))
        .and(path("/here"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/there"))
        .mount(&home)
        .await;
    Mock::given(method("GET"))
        .and(path("/there"))
        .and(header("x-vault-token", "s3cret"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&home)
        .await;
    client.execute(&Request::get("/here")).await.expect("a redirect on the same origin keeps the credential");

    let away = format!("{}/away", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/leave"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", away.as_str()))
        .mount(&home)
        .await;
    Mock::given(method("GET")).and(path("/away")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
    let answer = client.send(&Request::get("/leave")).await.unwrap();
    assert_eq!(answer.status.as_u16(), 302, "a redirect to another origin is handed back, not followed");
    let seen = seen_headers(&elsewhere).await;
    assert!(!seen.iter().any(|h| h.contains("s3cret") || h.starts_with("x-vault-token")), "{seen:?}");
}

#[tokio::test]
async fn a_server_that_ignores_the_page_number_is_an_error_not_a_loop() {
    let server = MockServer::start().await;
    let full: Vec<u32> = (0..50).collect();
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&full))
        .mount(&server)
        .await;
    let client = client(&server).await;
    let err = client
        .collect_pages::<u32>(&Request::get("/items"), &offinfra_http::PageNumbers::WOODPECKER, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("repeats page 1"), "{err}");
}

#[tokio::test]
async fn short_pages_go_on_while_the_total_count_says_there_is_more() {
    let server = MockServer::start().await;
    for (page, items) in [("1", vec![1, 2]), ("2", vec![3, 4]), ("3", vec![5])] {
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(query_param("page", page))
            .respond_with(ResponseTemplate::new(200).set_body_json(items).insert_header("x-total-count", "5"))
            .mount(&server)
            .await;
    }
    let client = client(&server).await;
    let pages = offinfra_http::PageNumbers { page_param: "page", size_param: "limit", size: 50 };
    let items: Vec<u32> = client.collect_pages(&Request::get("/items"), &pages, None).await.unwrap();
    assert_eq!(items, [1, 2, 3, 4, 5], "a server capping pages below our size is read to the end");
}

#[tokio::test]
async fn answers_are_capped_and_a_silent_server_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; offinfra_http::DEFAULT_MAX_BODY + 1]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = client(&server).await;
    let err = client.execute(&Request::get("/big")).await.unwrap_err();
    assert!(err.to_string().contains("larger than 4194304 bytes"), "{err}");
    assert!(client.execute(&Request::get("/big").max_body(8 << 20)).await.is_ok(), "a caller may raise the cap");

    let impatient = Client::builder(server.uri())
        .read_timeout(Duration::from_millis(200))
        .retry(offinfra_test_support::fast_retry())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    assert!(impatient.execute(&Request::get("/slow")).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(4), "gave up before the server answered");
}

#[tokio::test]
async fn an_endless_error_body_of_a_streamed_request_is_read_only_in_part() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that answers 500 and then sends its error body for ever, in chunks.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head =
            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 8192, "e".repeat(8192));
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let client = Client::builder(format!("http://{address}")).build().unwrap();
    // Without the cap this would read until the server stops, which it never does: the test's own
    // deadline turns that hang into a failure.
    let sent = tokio::time::timeout(Duration::from_secs(20), client.send_streaming(&Request::get("/blob"))).await;
    let err = sent.expect("the error arrives without the whole body").unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
}
