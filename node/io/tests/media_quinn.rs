//! `MediaSender` over a real quinn connection on loopback: datagrams arrive
//! intact, and when the send buffer overflows quinn drops the *oldest* audio,
//! so what finally goes out is the newest (never stale audio queued behind).

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tandem_node::media::datagram::MediaDatagram;
use tandem_node::media::sender::{MediaSender, datagram_send_buffer};
use tandem_node::media::{CodecConfig, FrameDuration, LegId, LegSender, SampleRate};
use tandem_node_io::media::QuicDatagrams;

async fn connect() -> (quinn::Endpoint, quinn::Connection, quinn::Connection) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let mut transport = quinn::TransportConfig::default();
    transport.datagram_send_buffer_size(datagram_send_buffer(FrameDuration::Ms20, 1));
    let transport = Arc::new(transport);
    let mut server_cfg = quinn::ServerConfig::with_single_cert(vec![cert.clone()], key).unwrap();
    server_cfg.transport_config(Arc::clone(&transport));
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = quinn::Endpoint::server(server_cfg, addr).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let mut client_cfg = quinn::ClientConfig::with_root_certificates(Arc::new(roots)).unwrap();
    client_cfg.transport_config(transport);
    let mut client = quinn::Endpoint::client(addr).unwrap();
    client.set_default_client_config(client_cfg);
    let server_addr = server.local_addr().unwrap();
    let connecting = client.connect(server_addr, "localhost").unwrap();
    let (c, s) = tokio::join!(connecting, async { server.accept().await.unwrap().await });
    (client, c.unwrap(), s.unwrap())
}

#[tokio::test]
async fn datagrams_arrive_and_overflow_drops_the_oldest() {
    let (_client, conn, server_conn) = connect().await;
    let mut sender = MediaSender::new(QuicDatagrams(conn.clone()));
    let mut leg = LegSender::new(LegId(5), CodecConfig::voice(SampleRate::Narrowband)).unwrap();
    let speech = tandem_node::media::analysis::speechlike(8000, 8000 * 2);

    // Steady state: one frame at a time, each one arrives.
    for f in speech.chunks_exact(160).take(5) {
        let d = leg.encode_frame(f).unwrap().unwrap().to_vec();
        sender.send(&d).unwrap();
        let got = server_conn.read_datagram().await.unwrap();
        assert_eq!(got, d);
    }

    // A stall: 90 frames queued before the connection gets to send (this
    // current-thread runtime cannot run quinn's driver until we yield).
    let mut sent_seqs = Vec::new();
    for f in speech.chunks_exact(160).skip(5).take(90) {
        let d = leg.encode_frame(f).unwrap().unwrap().to_vec();
        sent_seqs.push(MediaDatagram::parse(&d).unwrap().header.seq);
        sender.send(&d).unwrap();
    }
    let mut got = Vec::new();
    while let Ok(Ok(d)) = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        server_conn.read_datagram(),
    )
    .await
    {
        got.push(MediaDatagram::parse(&d).unwrap().header.seq);
    }
    eprintln!(
        "after the stall {} of 90 frames went out: seq {:?}..={:?}",
        got.len(),
        got.first(),
        got.last()
    );
    assert_eq!(sender.stats().sent, 95);
    assert!(
        !got.is_empty() && got.len() < 90,
        "{} of 90 arrived",
        got.len()
    );
    // What survived is the newest audio, contiguous up to the last frame sent.
    assert_eq!(got.last(), sent_seqs.last());
    let first = got[0];
    assert!(first > sent_seqs[0], "oldest frames were dropped");
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
}
