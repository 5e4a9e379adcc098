//! Engine behaviour driven by hand: timers, round changes with prepared
//! justification, and byzantine messages (non-validators, wrong proposers,
//! forged seals, invalid justifications).

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
        let history = ValidatorHistory::from_genesis(self.mode, &self.genesis, 30_000).unwrap();
        let mut engine =
            Engine::new(self.config(), signer.clone(), history, self.genesis.clone()).unwrap();
        engine.start(0);
        engine.handle(1_000, Input::Timer(TimerId::Block { height: 1 }));
        engine
    }

    fn block(&self, round: u32, proposer: Address, body: &str) -> BftBlock {
        let mut extra = BftExtraData::genesis(self.validators());
        extra.round = round;
        build_block(
            &BuildRequest {
                height: 1,
                round,
                parent_hash: self.genesis_hash,
                timestamp: 1,
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
