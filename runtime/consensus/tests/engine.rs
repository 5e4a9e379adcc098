//! Engine behaviour driven by hand: timers, round changes with prepared
//! justification, and byzantine messages (non-validators, wrong proposers,
//! forged seals, invalid justifications).
#![allow(unused_crate_dependencies)] // a test/bench binary links all of the package's dependencies

use alloy::consensus::Header;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use forja_consensus::sim::{SimConfig, Simulation, build_block};
use forja_consensus::{
    BFT_MIX_HASH, BftBlock, BftConfig, BftExtraData, BftMode, BuildRequest, Engine, Input, Message,
    Output, Payload, PreparedCertificate, PreparedRound, Proposal, Rejection, RoundChange, RoundId,
    SignedPayload, TimerId, ValidatorHistory, bft_block_hash, select_proposer, sign_committed_seal,
};

struct Fixture {
    mode: BftMode,
    signers: Vec<PrivateKeySigner>,
    genesis: Header,
    genesis_hash: B256,
}

impl Fixture {
    fn new(mode: BftMode, validators: u8) -> Self {
        let signers: Vec<PrivateKeySigner> = (1..=validators)
            .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap())
            .collect();
        let extra = BftExtraData::genesis(signers.iter().map(|s| s.address()).collect());
        let genesis = Header {
            extra_data: extra.encode(mode),
            mix_hash: BFT_MIX_HASH,
            difficulty: U256::from(1),
            gas_limit: 30_000_000,
            ..Header::default()
        };
        let genesis_hash = bft_block_hash(mode, &genesis).unwrap();
        Self {
            mode,
            signers,
            genesis,
            genesis_hash,
        }
    }

    fn validators(&self) -> Vec<Address> {
        let mut v: Vec<Address> = self.signers.iter().map(|s| s.address()).collect();
        v.sort();
        v
    }

    fn signer_of(&self, address: Address) -> &PrivateKeySigner {
        self.signers
            .iter()
            .find(|s| s.address() == address)
            .unwrap()
    }

    fn proposer(&self, round: u32) -> &PrivateKeySigner {
        self.signer_of(select_proposer(
            &self.validators(),
            self.genesis.beneficiary,
            round,
        ))
    }

    fn config(&self) -> BftConfig {
        let mut config = BftConfig::new(self.mode);
        config.request_timeout_ms = 1_000;
        config
    }

    /// An engine at height 1 for `signer`, started, with block timer fired.
    fn engine(&self, signer: &PrivateKeySigner) -> Engine {
        self.engine_with(signer, self.config())
    }

    fn engine_with(&self, signer: &PrivateKeySigner, config: BftConfig) -> Engine {
        let history = ValidatorHistory::from_genesis(self.mode, &self.genesis, 30_000).unwrap();
        let mut engine =
            Engine::new(config, signer.clone(), history, self.genesis.clone()).unwrap();
        engine.start(0);
        engine.handle(1_000, Input::Timer(TimerId::Block { height: 1 }));
        engine
    }

    fn block(&self, round: u32, proposer: Address, body: &str) -> BftBlock {
        self.block_at(round, proposer, body, 1)
    }

    fn block_at(&self, round: u32, proposer: Address, body: &str, timestamp: u64) -> BftBlock {
        let mut extra = BftExtraData::genesis(self.validators());
        extra.round = round;
        build_block(
            &BuildRequest {
                height: 1,
                round,
                parent_hash: self.genesis_hash,
                timestamp,
                beneficiary: proposer,
                extra_data: extra.encode(self.mode),
            },
            Bytes::copy_from_slice(body.as_bytes()),
        )
    }

    fn sign(&self, signer: &PrivateKeySigner, payload: Payload) -> SignedPayload {
        SignedPayload::sign(payload, signer)
    }
}

fn bytes(message: &Message) -> Input {
    Input::Message(message.encode())
}

fn has_output(outputs: &[Output], pred: impl Fn(&Output) -> bool) -> bool {
    outputs.iter().any(pred)
}

#[test]
fn round_timer_doubles_each_round() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let node = fx
        .signers
        .iter()
        .find(|s| s.address() != fx.proposer(0).address())
        .unwrap();
    let history = ValidatorHistory::from_genesis(fx.mode, &fx.genesis, 0).unwrap();
    let mut engine = Engine::new(fx.config(), node.clone(), history, fx.genesis.clone()).unwrap();
    let out = engine.start(0);
    assert_eq!(
        out,
        vec![Output::SetTimer {
            id: TimerId::Block { height: 1 },
            after_ms: 1_000
        }]
    );
    let mut out = engine.handle(1_000, Input::Timer(TimerId::Block { height: 1 }));
    for round in 0..5u32 {
        let expected = Output::SetTimer {
            id: TimerId::Round(RoundId::new(1, round)),
            after_ms: 1_000 << round,
        };
        assert!(out.contains(&expected), "round {round}: {out:?}");
        if round > 0 {
            // Each expiry broadcasts a round change for the new round.
            assert!(has_output(
                &out,
                |o| matches!(o, Output::Broadcast(Message::RoundChange(rc)) if rc.signed.id().round == round)
            ));
        }
        out = engine.handle(0, Input::Timer(TimerId::Round(RoundId::new(1, round))));
    }
    // A stale timer does nothing.
    assert!(
        engine
            .handle(0, Input::Timer(TimerId::Round(RoundId::new(1, 1))))
            .is_empty()
    );
}

#[test]
fn proposer_asks_for_a_block_and_proposes_it() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let proposer = fx.proposer(0);
    let history = ValidatorHistory::from_genesis(fx.mode, &fx.genesis, 0).unwrap();
    let mut engine =
        Engine::new(fx.config(), proposer.clone(), history, fx.genesis.clone()).unwrap();
    engine.start(0);
    let out = engine.handle(1_000, Input::Timer(TimerId::Block { height: 1 }));
    let Some(Output::BuildBlock(request)) = out.iter().find(|o| matches!(o, Output::BuildBlock(_)))
    else {
        panic!("no build request: {out:?}")
    };
    assert_eq!(
        (request.height, request.round, request.parent_hash),
        (1, 0, fx.genesis_hash)
    );
    assert_eq!(request.beneficiary, proposer.address());
    let block = build_block(request, Bytes::from_static(b"txs"));
    let out = engine.handle(1_001, Input::BlockBuilt(block.clone()));
    let proposal = out.iter().find_map(|o| match o {
        Output::Broadcast(Message::Proposal(p)) => Some(p),
        _ => None,
    });
    let proposal = proposal.expect("proposal broadcast");
    assert_eq!(proposal.block, block);
    // QBFT: the proposer prepares its own block too.
    assert!(has_output(&out, |o| matches!(
        o,
        Output::Broadcast(Message::Prepare(_))
    )));
}

#[test]
fn messages_from_non_validators_and_wrong_proposers_are_rejected() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let outsider = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x55)).unwrap();
    let node = fx
        .signers
        .iter()
        .find(|s| s.address() != fx.proposer(0).address())
        .unwrap();
    let mut engine = fx.engine(node);

    let prepare = fx.sign(
        &outsider,
        Payload::Prepare {
            id: RoundId::new(1, 0),
            digest: B256::ZERO,
        },
    );
    assert!(
        engine
            .handle(0, bytes(&Message::Prepare(prepare)))
            .is_empty()
    );
    assert!(matches!(
        engine.last_rejection(),
        Some(Rejection::NotValidator { .. })
    ));

    // A validator that is not round 0's proposer.
    let impostor = fx
        .signers
        .iter()
        .find(|s| s.address() != fx.proposer(0).address())
        .unwrap();
    let block = fx.block(0, impostor.address(), "txs");
    let digest = block.hash(fx.mode).unwrap();
    let signed = fx.sign(
        impostor,
        Payload::Proposal {
            id: RoundId::new(1, 0),
            digest,
        },
    );
    let proposal = Message::Proposal(Proposal {
        signed,
        block,
        round_changes: vec![],
        prepared: None,
    });
    assert!(engine.handle(0, bytes(&proposal)).is_empty());
    assert!(matches!(
        engine.last_rejection(),
        Some(Rejection::WrongProposer { .. })
    ));

    // A proposal whose signed digest is not its block's hash.
    let proposer = fx.proposer(0);
    let block = fx.block(0, proposer.address(), "txs");
    let signed = fx.sign(
        proposer,
        Payload::Proposal {
            id: RoundId::new(1, 0),
            digest: B256::repeat_byte(1),
        },
    );
    let proposal = Message::Proposal(Proposal {
        signed,
        block,
        round_changes: vec![],
        prepared: None,
    });
    assert!(engine.handle(0, bytes(&proposal)).is_empty());
    assert!(matches!(
        engine.last_rejection(),
        Some(Rejection::InvalidBlock(_))
    ));

    // Garbage bytes.
    assert!(
        engine
            .handle(0, Input::Message(Bytes::from_static(b"\x01\x02")))
            .is_empty()
    );
    assert!(matches!(
        engine.last_rejection(),
        Some(Rejection::Malformed(_))
    ));
}

#[test]
fn invalid_block_is_not_prepared() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let proposer = fx.proposer(0);
    let node = fx
        .signers
        .iter()
        .find(|s| s.address() != proposer.address())
        .unwrap();
    let mut engine = fx.engine(node);
    let block = fx.block(0, proposer.address(), "bad txs");
    let digest = block.hash(fx.mode).unwrap();
    let signed = fx.sign(
        proposer,
        Payload::Proposal {
            id: RoundId::new(1, 0),
            digest,
        },
    );
    let out = engine.handle(
        0,
        bytes(&Message::Proposal(Proposal {
            signed,
            block: block.clone(),
            round_changes: vec![],
            prepared: None,
        })),
    );
    assert_eq!(out, vec![Output::ValidateBlock(block)]);
    let out = engine.handle(
        0,
        Input::BlockValidated {
            hash: digest,
            valid: false,
        },
    );
    assert!(out.is_empty(), "no prepare for an invalid block: {out:?}");
}

#[test]
fn forged_commit_seals_are_rejected_and_do_not_count() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        let fx = Fixture::new(mode, 4);
        let proposer = fx.proposer(0);
        let node = fx
            .signers
            .iter()
            .find(|s| s.address() != proposer.address())
            .unwrap();
        let mut engine = fx.engine(node);
        let block = fx.block(0, proposer.address(), "txs");
        let digest = block.hash(mode).unwrap();
        let id = RoundId::new(1, 0);
        let signed = fx.sign(proposer, Payload::Proposal { id, digest });
        engine.handle(
            0,
            bytes(&Message::Proposal(Proposal {
                signed,
                block: block.clone(),
                round_changes: vec![],
                prepared: None,
            })),
        );
        engine.handle(
            0,
            Input::BlockValidated {
                hash: digest,
                valid: true,
            },
        );

        // Two commits whose seals were made by someone else, and one genuine:
        // three commits, but not a quorum of good seals.
        let others: Vec<&PrivateKeySigner> = fx
            .signers
            .iter()
            .filter(|s| s.address() != node.address())
            .collect();
        let forger = others[0];
        let commit_with = |author: &PrivateKeySigner, sealer: &PrivateKeySigner| {
            let seal = sign_committed_seal(mode, &block.header, sealer).unwrap();
            Message::Commit(fx.sign(author, Payload::Commit { id, digest, seal }))
        };
        let mut committed = None;
        for message in [
            commit_with(others[1], forger),
            commit_with(others[2], forger),
            commit_with(others[0], others[0]),
        ] {
            let out = engine.handle(0, bytes(&message));
            assert!(
                !has_output(&out, |o| matches!(o, Output::CommitBlock(_))),
                "{mode:?}"
            );
        }
        assert!(
            matches!(engine.last_rejection(), Some(Rejection::BadSeal { .. })),
            "{mode:?}"
        );
        // The same authors' genuine commits then count.
        for author in &others[1..] {
            let out = engine.handle(0, bytes(&commit_with(author, author)));
            committed = committed.or(out.into_iter().find_map(|o| match o {
                Output::CommitBlock(b) => Some(b),
                _ => None,
            }));
        }
        let committed = committed.expect("a quorum of genuine commits commits");
        let committers =
            forja_consensus::verify_committed_seals(mode, &committed.header, &fx.validators())
                .unwrap();
        assert!(committers.len() >= 3);
        assert_eq!(committed.hash(mode).unwrap(), digest);
    }
}

/// Round changes for round 1 from `authors`, the first one carrying a
/// prepared certificate for `prepared_block` from round 0.
fn round_changes(
    fx: &Fixture,
    prepared_block: &BftBlock,
    with_cert: bool,
) -> (Vec<SignedPayload>, PreparedCertificate) {
    let id0 = RoundId::new(1, 0);
    let digest = prepared_block.hash(fx.mode).unwrap();
    let proposal = fx.sign(fx.proposer(0), Payload::Proposal { id: id0, digest });
    let prepares = fx.signers[..3]
        .iter()
        .map(|s| fx.sign(s, Payload::Prepare { id: id0, digest }))
        .collect();
    let cert = PreparedCertificate { proposal, prepares };
    let id1 = RoundId::new(1, 1);
    let rcs = fx.signers[..3]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let prepared = (i == 0 && with_cert).then_some(PreparedRound { round: 0, digest });
            fx.sign(s, Payload::RoundChange { id: id1, prepared })
        })
        .collect();
    (rcs, cert)
}

#[test]
fn round_one_proposal_must_repropose_the_prepared_block() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        let fx = Fixture::new(mode, 4);
        let proposer1 = fx.proposer(1);
        let node = fx
            .signers
            .iter()
            .find(|s| s.address() != proposer1.address())
            .unwrap();
        let prepared_block = fx.block(0, fx.proposer(0).address(), "prepared txs");
        let (rcs, cert) = round_changes(&fx, &prepared_block, true);
        let id1 = RoundId::new(1, 1);

        // A different block in round 1 despite the prepared round change: refused.
        let other = fx.block(1, proposer1.address(), "other txs");
        let digest = other.hash(mode).unwrap();
        let signed = fx.sign(proposer1, Payload::Proposal { id: id1, digest });
        let bad = Proposal {
            signed,
            block: other,
            round_changes: rcs.clone(),
            prepared: Some(cert.clone()),
        };
        let mut engine = fx.engine(node);
        assert!(engine.handle(0, bytes(&Message::Proposal(bad))).is_empty());
        assert!(
            matches!(
                engine.last_rejection(),
                Some(Rejection::InvalidJustification(_))
            ),
            "{mode:?}"
        );

        // Hiding the certificate does not help either.
        let other = fx.block(1, proposer1.address(), "other txs");
        let digest = other.hash(mode).unwrap();
        let signed = fx.sign(proposer1, Payload::Proposal { id: id1, digest });
        let hidden = Proposal {
            signed,
            block: other,
            round_changes: rcs.clone(),
            prepared: None,
        };
        assert!(
            engine
                .handle(0, bytes(&Message::Proposal(hidden)))
                .is_empty()
        );
        assert!(
            matches!(
                engine.last_rejection(),
                Some(Rejection::InvalidJustification(_))
            ),
            "{mode:?}"
        );

        // The prepared block with round 1 in its extraData: accepted, the node moves to round 1.
        let mut reproposed = prepared_block.clone();
        let mut extra = BftExtraData::from_header(mode, &reproposed.header).unwrap();
        extra.round = 1;
        reproposed.header.extra_data = extra.encode(mode);
        let digest = reproposed.hash(mode).unwrap();
        assert_eq!(
            digest,
            prepared_block.hash(mode).unwrap(),
            "BFT hash ignores the round"
        );
        let signed = fx.sign(proposer1, Payload::Proposal { id: id1, digest });
        let good = Proposal {
            signed,
            block: reproposed.clone(),
            round_changes: rcs.clone(),
            prepared: Some(cert.clone()),
        };
        // The re-proposal keeps round 0's beneficiary.
        let out = engine.handle(0, bytes(&Message::Proposal(good)));
        assert!(
            has_output(&out, |o| matches!(o, Output::ValidateBlock(_))),
            "{mode:?}: {out:?} {:?}",
            engine.last_rejection()
        );
        assert_eq!(engine.current_round(), id1);

        // Too few round changes: refused.
        let signed = fx.sign(proposer1, Payload::Proposal { id: id1, digest });
        let short = Proposal {
            signed,
            block: reproposed,
            round_changes: rcs[..2].to_vec(),
            prepared: Some(cert),
        };
        let mut engine = fx.engine(node);
        assert!(
            engine
                .handle(0, bytes(&Message::Proposal(short)))
                .is_empty()
        );
        assert!(
            matches!(
                engine.last_rejection(),
                Some(Rejection::InvalidJustification(_))
            ),
            "{mode:?}"
        );
    }
}

#[test]
fn round_change_with_forged_certificate_is_rejected() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let node = &fx.signers[3];
    let mut engine = fx.engine(node);
    let block = fx.block(0, fx.proposer(0).address(), "txs");
    let digest = block.hash(fx.mode).unwrap();
    let id0 = RoundId::new(1, 0);
    // Only one prepare: not a quorum.
    let cert = PreparedCertificate {
        proposal: fx.sign(fx.proposer(0), Payload::Proposal { id: id0, digest }),
        prepares: vec![fx.sign(&fx.signers[0], Payload::Prepare { id: id0, digest })],
    };
    let signed = fx.sign(
        &fx.signers[0],
        Payload::RoundChange {
            id: RoundId::new(1, 1),
            prepared: Some(PreparedRound { round: 0, digest }),
        },
    );
    let rc = Message::RoundChange(RoundChange {
        signed,
        prepared: Some((block, cert)),
    });
    assert!(engine.handle(0, bytes(&rc)).is_empty());
    assert!(matches!(
        engine.last_rejection(),
        Some(Rejection::InvalidJustification(_))
    ));
}

#[test]
fn block_prepared_in_round_zero_is_committed_in_round_one() {
    for mode in [BftMode::Qbft, BftMode::Ibft2] {
        for seed in 0..5u64 {
            let mut bft = BftConfig::new(mode);
            bft.request_timeout_ms = 1_000;
            let mut sim = Simulation::new(SimConfig::new(seed, 4, bft));
            let proposals =
                std::rc::Rc::new(std::cell::RefCell::new(Vec::<(u32, B256, bool)>::new()));
            let seen = proposals.clone();
            // Everyone prepares in round 0, but no commit of round 0 gets through.
            sim.set_filter(Some(Box::new(move |_, _, message| match message {
                Message::Commit(c) => c.id().round > 0,
                Message::Proposal(p) => {
                    let digest = p.signed.payload().digest().unwrap();
                    seen.borrow_mut()
                        .push((p.signed.id().round, digest, p.prepared.is_some()));
                    true
                }
                _ => true,
            })));
            assert!(
                sim.run_until_height(1, 120_000),
                "seed {seed} {mode:?}: no block"
            );
            assert!(
                sim.violations().is_empty(),
                "seed {seed}: {:?}",
                sim.violations()
            );
            let block = &sim.chain(0)[1];
            let extra = BftExtraData::from_header(mode, &block.header).unwrap();
            assert!(
                extra.round >= 1,
                "seed {seed} {mode:?}: committed in round {}",
                extra.round
            );
            let proposals = proposals.borrow();
            let round0 = proposals
                .iter()
                .find(|p| p.0 == 0)
                .expect("round 0 proposal")
                .1;
            assert_eq!(
                block.hash(mode).unwrap(),
                round0,
                "seed {seed} {mode:?}: the prepared block must win"
            );
            assert!(
                proposals.iter().any(|p| p.0 == 1 && p.1 == round0 && p.2),
                "seed {seed} {mode:?}: re-proposal in round 1 with certificate"
            );
        }
    }
}

#[test]
fn messages_round_trip_through_their_encoding() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let block = fx.block(0, fx.proposer(0).address(), "txs");
    let (rcs, cert) = round_changes(&fx, &block, true);
    let digest = block.hash(fx.mode).unwrap();
    let seal = sign_committed_seal(fx.mode, &block.header, &fx.signers[1]).unwrap();
    let messages = vec![
        Message::Proposal(Proposal {
            signed: fx.sign(
                fx.proposer(1),
                Payload::Proposal {
                    id: RoundId::new(1, 1),
                    digest,
                },
            ),
            block: block.clone(),
            round_changes: rcs.clone(),
            prepared: Some(cert.clone()),
        }),
        Message::Prepare(fx.sign(
            &fx.signers[0],
            Payload::Prepare {
                id: RoundId::new(1, 0),
                digest,
            },
        )),
        Message::Commit(fx.sign(
            &fx.signers[1],
            Payload::Commit {
                id: RoundId::new(1, 0),
                digest,
                seal,
            },
        )),
        Message::RoundChange(RoundChange {
            signed: rcs[0].clone(),
            prepared: Some((block, cert)),
        }),
        Message::RoundChange(RoundChange {
            signed: rcs[1].clone(),
            prepared: None,
        }),
    ];
    for message in messages {
        let decoded = Message::decode(&message.encode()).unwrap();
        assert_eq!(decoded, message);
        assert!(fx.validators().contains(&decoded.author()));
    }
    // A flipped bit in the signed payload changes the recovered author.
    let prepare = Message::Prepare(fx.sign(
        &fx.signers[0],
        Payload::Prepare {
            id: RoundId::new(1, 0),
            digest,
        },
    ));
    let mut raw = prepare.encode().to_vec();
    let at = raw.len() - 70;
    raw[at] ^= 1;
    if let Ok(m) = Message::decode(&raw) {
        assert_ne!(m.author(), fx.signers[0].address());
    }
}

fn proposal(fx: &Fixture, block: BftBlock) -> Message {
    let digest = block.hash(fx.mode).unwrap();
    let id = RoundId::new(1, 0);
    Message::Proposal(Proposal {
        signed: fx.sign(fx.proposer(0), Payload::Proposal { id, digest }),
        block,
        round_changes: vec![],
        prepared: None,
    })
}

#[test]
fn a_proposal_stamped_more_than_a_second_ahead_of_the_clock_is_refused() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let proposer = fx.proposer(0).address();
    let node = fx.signers.iter().find(|s| s.address() != proposer).unwrap();
    // The clock reads 100.5 s: Besu allows 1 s of drift, so 101 passes, 102 does not.
    let now_ms = 100_500;
    for (timestamp, accepted) in [(102, false), (1_000_000_000, false), (101, true)] {
        let mut engine = fx.engine(node);
        let block = fx.block_at(0, proposer, "txs", timestamp);
        let out = engine.handle(now_ms, bytes(&proposal(&fx, block.clone())));
        if accepted {
            assert_eq!(
                out,
                vec![Output::ValidateBlock(block)],
                "timestamp {timestamp}"
            );
        } else {
            assert!(out.is_empty(), "timestamp {timestamp}: {out:?}");
            assert!(
                matches!(engine.last_rejection(), Some(Rejection::InvalidBlock(reason)) if reason.contains("ahead of this node's clock")),
                "timestamp {timestamp}: {:?}",
                engine.last_rejection()
            );
        }
    }
    // The earliest timestamp a block may have is never refused, even when
    // the parent is ahead of this node's clock.
    let mut engine = fx.engine(node);
    let block = fx.block_at(0, proposer, "txs", 1);
    let out = engine.handle(0, bytes(&proposal(&fx, block.clone())));
    assert_eq!(out, vec![Output::ValidateBlock(block)]);
}

#[test]
fn a_flood_of_future_messages_from_one_validator_stays_bounded() {
    let fx = Fixture::new(BftMode::Qbft, 4);
    let node = &fx.signers[0];
    let flooder = &fx.signers[1];
    let honest = &fx.signers[2];
    let limit = 50;
    let mut config = fx.config();
    config.future_messages_limit = limit;
    let mut engine = fx.engine_with(node, config);
    let mut sent = 0u32;
    // Prepares and commits for later rounds and heights, each with another
    // digest, so no two are the same bytes; round changes for later rounds.
    for height in 1..=15u64 {
        for round in 0..=70u32 {
            for n in 0..3u8 {
                let digest = B256::repeat_byte(n);
                let id = RoundId::new(height, round);
                let seal = sign_committed_seal(
                    fx.mode,
                    &fx.block(0, flooder.address(), "x").header,
                    flooder,
                )
                .unwrap();
                for message in [
                    Message::Prepare(fx.sign(flooder, Payload::Prepare { id, digest })),
                    Message::Commit(fx.sign(flooder, Payload::Commit { id, digest, seal })),
                ] {
                    engine.handle(1_000, bytes(&message));
                    sent += 1;
                }
            }
            if height == 1 && round > 0 {
                let rc = fx.sign(
                    flooder,
                    Payload::RoundChange {
                        id: RoundId::new(1, round),
                        prepared: None,
                    },
                );
                engine.handle(
                    1_000,
                    bytes(&Message::RoundChange(RoundChange {
                        signed: rc,
                        prepared: None,
                    })),
                );
                sent += 1;
            }
        }
    }
    assert!(sent > 6_000);
    assert_eq!(
        engine.current_round(),
        RoundId::new(1, 0),
        "one validator moved the round"
    );
    assert!(
        engine.future_messages() <= limit,
        "{} parked",
        engine.future_messages()
    );
    // One round change per round, none beyond 64 rounds ahead.
    assert_eq!(engine.future_round_changes(), 64);
    // A full buffer makes room by dropping what is furthest ahead, so a
    // prepare for the next round from an honest validator still fits.
    let before = engine.future_messages();
    let id = RoundId::new(1, 1);
    let digest = B256::repeat_byte(9);
    engine.handle(
        1_000,
        bytes(&Message::Prepare(
            fx.sign(honest, Payload::Prepare { id, digest }),
        )),
    );
    assert_eq!(engine.future_messages(), before.min(limit - 1) + 1);

    // Without a limit in the way, one message per author, kind and round.
    let mut engine = fx.engine(node);
    for n in 0..200u8 {
        let prepare = Payload::Prepare {
            id: RoundId::new(1, 1),
            digest: B256::repeat_byte(n),
        };
        engine.handle(1_000, bytes(&Message::Prepare(fx.sign(flooder, prepare))));
    }
    assert_eq!(engine.future_messages(), 1);
}

#[test]
fn early_round_change_needs_qbft_and_the_option() {
    let round_change = |fx: &Fixture, signer: &PrivateKeySigner| {
        let signed = fx.sign(
            signer,
            Payload::RoundChange {
                id: RoundId::new(1, 3),
                prepared: None,
            },
        );
        bytes(&Message::RoundChange(RoundChange {
            signed,
            prepared: None,
        }))
    };
    for (mode, enabled, follows_f_plus_one) in [
        (BftMode::Qbft, true, true),
        (BftMode::Qbft, false, false),
        (BftMode::Ibft2, true, false),
        (BftMode::Ibft2, false, false),
    ] {
        let fx = Fixture::new(mode, 4);
        let mut config = fx.config();
        config.early_round_change = enabled;
        let mut engine = fx.engine_with(&fx.signers[0], config);
        // f + 1 = 2 of 4 validators are in round 3.
        for signer in &fx.signers[1..3] {
            engine.handle(1_000, round_change(&fx, signer));
        }
        let expected = if follows_f_plus_one { 3 } else { 0 };
        assert_eq!(
            engine.current_round().round,
            expected,
            "{mode:?}, early round change {enabled}"
        );
        assert_eq!(engine.round_changes(), u64::from(follows_f_plus_one));
        // A quorum (3) moves every node.
        engine.handle(1_000, round_change(&fx, &fx.signers[3]));
        assert_eq!(
            engine.current_round().round,
            3,
            "{mode:?}, early round change {enabled}"
        );
        assert_eq!(engine.round_changes(), 1);
    }
}
