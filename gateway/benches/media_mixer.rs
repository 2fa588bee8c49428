//! Anchor media costs: the mixer per 20 ms frame for N participants, and the
//! recorder's stereo encode per frame.
//!
//! `cargo bench -p tandem-gateway --bench media_mixer`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tandem_gateway::media::mixer::{Mixer, ParticipantId, Role};
use tandem_gateway::media::recorder::{FsyncPolicy, OggOpusWriter, RecorderConfig};
use tandem_node::media::analysis::speechlike;
use tandem_node::media::codec::SampleRate;

const FRAME: usize = 160;

fn mixer(c: &mut Criterion) {
    let voice = speechlike(8000, FRAME * 50);
    let mut group = c.benchmark_group("mixer_frame_nb20");
    for parties in [2usize, 3, 5, 10, 50] {
        let mut m = Mixer::new(FRAME);
        for p in 0..parties as u32 {
            m.add(ParticipantId(p), Role::Party).expect("add");
        }
        // Plus one monitoring and one whispering supervisor.
        m.add(ParticipantId(1000), Role::Monitor).expect("monitor");
        m.add(
            ParticipantId(1001),
            Role::Whisper {
                to: ParticipantId(1),
            },
        )
        .expect("whisper");
        let mut f = 0;
        group.bench_with_input(BenchmarkId::from_parameter(parties), &parties, |b, &n| {
            b.iter(|| {
                f = (f + 1) % 50;
                let frame = &voice[f * FRAME..(f + 1) * FRAME];
                for p in 0..n as u32 {
                    m.set_input(ParticipantId(p), frame).expect("input");
                }
                m.mix();
                black_box(m.output(ParticipantId(0)).expect("output")[0])
            })
        });
    }
    group.finish();
}

fn recorder(c: &mut Criterion) {
    let cfg = RecorderConfig {
        fsync: FsyncPolicy::Never,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    let mut w = OggOpusWriter::new(std::io::sink(), &cfg, 1).expect("writer");
    let voice = speechlike(8000, FRAME * 50);
    let stereo: Vec<i16> = voice.iter().flat_map(|&s| [s, s / 2]).collect();
    let mut f = 0;
    c.bench_function("recorder_stereo_frame_nb20", |b| {
        b.iter(|| {
            f = (f + 1) % 50;
            w.write_frame(&stereo[f * 2 * FRAME..(f + 1) * 2 * FRAME])
                .expect("write")
        })
    });
}

criterion_group!(benches, mixer, recorder);
criterion_main!(benches);
