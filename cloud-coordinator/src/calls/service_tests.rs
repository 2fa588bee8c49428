//! The shell: configuration storage and restore, and call control over the
//! real session path.

use super::*;
use tandem_node::routing::AgentState;

const DEMO: &str = include_str!("../../../center-configs/demo.toml");

#[test]
fn config_loads_with_increasing_versions_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = Coordinator::open(dir.path()).unwrap();
    assert_eq!(c.config_version(), None);
    assert!(matches!(
        c.agent_command(AgentId(1), AgentCommand::Login),
        Err(CallError::NotConfigured)
    ));
    assert!(c.load_config("routing = 3").is_err());
    assert_eq!(c.load_config(DEMO).unwrap(), 1);
    let view = c.agent_command(AgentId(1), AgentCommand::Login).unwrap();
    assert!(matches!(view.state, Some(AgentState::NotReady(_))));
    assert_eq!(c.load_config(DEMO).unwrap(), 2);
    // Applied live: the agent stays logged in.
    assert!(matches!(
        c.agent_view(AgentId(1)).unwrap().state,
        Some(AgentState::NotReady(_))
    ));
    assert_eq!(c.agent_view(AgentId(99)), None);
    assert_eq!(c.summary().config_version, 2);
    assert_eq!(c.summary().queues.len(), 3);
    assert!(!c.store().queue_events().unwrap().is_empty());
    drop(c);
    let c = Coordinator::open(dir.path()).unwrap();
    assert_eq!(c.config_version(), Some(2));
    assert_eq!(c.config_push().unwrap().version, 2);
}

/// Call control over the real session path: enrolled nodes on loopback QUIC.
mod wire {
    use super::*;
    use std::collections::BTreeMap;
    use tandem_node::calls::{CallDown, Endpoint};
    use tandem_node::link::COORDINATOR_SERVER_NAME;
    use tandem_node::proto::{EnrollRequest, EnrollResult, Hello};
    use tandem_node::routing::{CallId, QueueId};
    use tandem_node_io::link::tls::enrolled_client_config;
    use tandem_node_io::link::{ControlStream, NodeKey};

    /// A freshly enrolled gateway at `site`: its connection and its control
    /// stream after the hello.
    async fn gateway(
        coordinator: &Coordinator,
        endpoint: &quinn::Endpoint,
        addr: std::net::SocketAddr,
        site: &str,
    ) -> (quinn::Connection, ControlStream) {
        let token = coordinator
            .create_token(Site::new(site).unwrap(), 60)
            .unwrap();
        let key = NodeKey::generate().unwrap();
        let request = EnrollRequest {
            token: token.encode(),
            csr_der: key.csr_der().unwrap(),
            software_version: "test".into(),
        };
        let EnrollResult::Enrolled {
            node_id,
            site,
            cert_der,
            ca_der,
        } = coordinator.enroll(&request)
        else {
            panic!("enrollment refused");
        };
        let config = enrolled_client_config(&ca_der, &cert_der, &key).unwrap();
        let conn = endpoint
            .connect_with(config, addr, COORDINATOR_SERVER_NAME)
            .unwrap()
            .await
            .unwrap();
        let mut control = ControlStream::open(&conn).await.unwrap();
        control
            .send(&Message::Hello(Hello {
                node_id,
                site,
                software_version: "test".into(),
                capabilities: vec![],
                inventory: Default::default(),
            }))
            .await
            .unwrap();
        (conn, control)
    }

    /// The next message other than heartbeats and agent updates.
    async fn next(control: &mut ControlStream) -> Message {
        loop {
            let env = tokio::time::timeout(Duration::from_secs(5), control.recv())
                .await
                .expect("a message within 5 s")
                .unwrap();
            match env.message {
                Message::Heartbeat(_)
                | Message::HeartbeatAck(_)
                | Message::CallDown(CallDown::AgentUpdate(_)) => continue,
                other => return other,
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn config_after_welcome_then_a_call_rings_a_remote_seat_and_joins_over_a_leg() {
        let dir = tempfile::tempdir().unwrap();
        let coordinator = Coordinator::open(dir.path()).unwrap();
        assert_eq!(coordinator.load_config(DEMO).unwrap(), 1);
        let running = coordinator
            .serve(crate::server::ServeOptions {
                listen: "127.0.0.1:0".parse().unwrap(),
                http: None,
                http_tls: None,
            })
            .await
            .unwrap();
        let addr = running.local_addr().unwrap();
        let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        let (_bj_conn, mut bj) = gateway(&coordinator, &endpoint, addr, "bj-01").await;
        let (_sh_conn, mut sh) = gateway(&coordinator, &endpoint, addr, "sh-01").await;
        for control in [&mut bj, &mut sh] {
            assert!(matches!(next(control).await, Message::Welcome(_)));
            assert!(matches!(next(control).await, Message::Config(p) if p.version == 1));
        }
        for command in [AgentCommand::Login, AgentCommand::Ready] {
            sh.send(&Message::CallUp(CallUp::Agent {
                agent: AgentId(4),
                command,
            }))
            .await
            .unwrap();
        }
        // Wait until the agent is ready before the call arrives.
        for _ in 0..100 {
            if coordinator.agent_view(AgentId(4)).and_then(|v| v.state)
                == Some(tandem_node::routing::AgentState::Ready)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bj.send(&Message::CallUp(CallUp::Arrived {
            call: CallId(42),
            line: "fxo1".into(),
            caller: Some("+8613800000001".into()),
            queue: QueueId(1),
            priority: 0,
            vars: BTreeMap::new(),
            ivr_path: vec![],
        }))
        .await
        .unwrap();
        assert!(matches!(
            next(&mut sh).await,
            Message::CallDown(CallDown::Ring {
                call: CallId(42),
                agent: AgentId(4),
                ..
            })
        ));
        sh.send(&Message::CallUp(CallUp::Agent {
            agent: AgentId(4),
            command: AgentCommand::Answer,
        }))
        .await
        .unwrap();
        assert!(matches!(
            next(&mut sh).await,
            Message::CallDown(CallDown::StopRing { .. })
        ));
        let Message::LegOpen(open) = next(&mut sh).await else {
            panic!("the seat gets the leg");
        };
        assert_eq!(open.endpoint, "seat1");
        // The anchor: offer logged, then the leg, then the join over it.
        let mut joined = false;
        for _ in 0..6 {
            match next(&mut bj).await {
                Message::LegOpen(o) => assert_eq!(o.endpoint, "call-42"),
                Message::CallDown(CallDown::Join { endpoint, .. }) => {
                    assert_eq!(endpoint, Endpoint::Leg(open.leg));
                    joined = true;
                    break;
                }
                _ => {}
            }
        }
        assert!(joined);
        assert_eq!(coordinator.summary().totals.answered, 1);
        running.shutdown().await;
    }
}
