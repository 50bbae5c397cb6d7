//! End to end: `custodia serve` on an ephemeral port of 127.0.0.1, tokens made with
//! `custodia tokens create`, an ISO 28000 cycle over HTTP, an auditor's cosignature, then the
//! exported bundle verifies offline with `custodia verify --bundle`.
//!
//! Each step is also decided on a local `Sms`, which gives the expected version the client
//! sends and checks that the server recorded the same history.

mod common;
#[path = "../crates/domain/tests/common/mod.rs"]
mod domain;

use common::{check, ok, output, token, Server};
use custodia_domain::*;
use domain::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// A client that runs each step on a local SMS and over HTTP with the actor's token.
struct Cycle {
    http: reqwest::Client,
    base: String,
    tokens: HashMap<Actor, String>,
    sms: Sms,
}

impl Cycle {
    async fn step(&mut self, who: &Actor, at: i64, command: Command) -> Value {
        let stream = command.stream();
        let expected = self.sms.stream(&stream).map_or(0, |s| s.version());
        let mut body = command.to_json();
        self.sms
            .execute(command, who, day(at))
            .unwrap_or_else(|e| panic!("{stream} by {who}: the local SMS refused: {e}"));
        body["expected_version"] = json!(expected);
        body["occurred_at"] = json!(day(at).to_string());
        let res = self
            .http
            .post(format!("{}/v1/streams/{stream}/commands", self.base))
            .bearer_auth(&self.tokens[who])
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let reply: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{stream} {}: {reply}", body["action"]);
        assert_eq!(
            reply["version"],
            self.sms.stream(&stream).unwrap().version()
        );
        reply
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }
}

/// Who the cycle's people are, and the API role of each one's token.
fn cast() -> Vec<(Actor, &'static str)> {
    vec![
        (Actor::new("service:setup").unwrap(), "admin"),
        (actor("ceo"), "top_management"),
        (actor("coo"), "top_management"),
        (actor("sm"), "security_manager"),
        (actor("deputy"), "security_manager"),
        (actor("owner"), "risk_owner"),
        (actor("handler"), "risk_owner"),
        // The internal auditor records findings: a writer to the API; the SMS role decides.
        (actor("auditor"), "risk_owner"),
    ]
}

async fn setup(c: &mut Cycle) {
    let installer = Actor::new("service:setup").unwrap();
    c.step(&installer, 0, role_define(roles::TOP_MANAGEMENT))
        .await;
    c.step(
        &installer,
        0,
        role_assign(roles::TOP_MANAGEMENT, &actor("ceo"), None),
    )
    .await;
    let grants = [
        (roles::TOP_MANAGEMENT, "coo", None),
        (roles::RISK_ACCEPTANCE, "coo", None),
        (roles::SECURITY_MANAGER, "sm", None),
        (roles::SECURITY_MANAGER, "deputy", None),
        (roles::RISK_OWNER, "owner", Some("europe")),
        (roles::AUDITOR, "auditor", None),
        (roles::INCIDENT_HANDLER, "handler", Some("NL")),
    ];
    let ceo = actor("ceo");
    for (role, who, area) in grants {
        let define = role_define(role);
        if c.sms.stream(&define.stream()).is_none() {
            c.step(&ceo, 0, define).await;
        }
        c.step(&ceo, 0, role_assign(role, &actor(who), area)).await;
    }
    let matrix = Command::Matrix(
        id("default"),
        MatrixCommand::Define(MatrixDefined::default_5x5()),
    );
    c.step(&actor("sm"), 0, matrix).await;
}

/// 5.2: a policy drafted, approved by top management, published.
async fn policy_cycle(c: &mut Cycle) {
    let (sm, ceo) = (actor("sm"), actor("ceo"));
    c.step(&sm, 1, policy("POL-1", policy_drafted())).await;
    c.step(
        &ceo,
        2,
        policy(
            "POL-1",
            PolicyCommand::Approve(PolicyApproved { note: None }),
        ),
    )
    .await;
    c.step(
        &sm,
        3,
        policy(
            "POL-1",
            PolicyCommand::Publish(PolicyPublished { channels: vec![] }),
        ),
    )
    .await;
}

/// 6.1: a risk identified, assessed, treated, rated residual and accepted.
async fn risk_cycle(c: &mut Cycle) {
    let (owner, coo) = (actor("owner"), actor("coo"));
    c.step(&owner, 4, risk("R-1", risk_identified(&owner)))
        .await;
    c.step(&owner, 5, risk("R-1", RiskCommand::Assess(rate(4, 4))))
        .await;
    c.step(&owner, 6, risk("R-1", treatment("T-1", day(60), &owner)))
        .await;
    let done = TreatmentCompleted {
        treatment: id("T-1"),
        evidence: t("guards hired"),
    };
    c.step(
        &owner,
        10,
        risk("R-1", RiskCommand::CompleteTreatment(done)),
    )
    .await;
    c.step(
        &owner,
        11,
        risk("R-1", RiskCommand::AssessResidual(rate(2, 2))),
    )
    .await;
    let accepted = RiskAccepted {
        rationale: t("within appetite"),
        expires: Some(day(200)),
    };
    c.step(&coo, 12, risk("R-1", RiskCommand::Accept(accepted)))
        .await;
}

/// 8.5: an incident reported, triaged, contained, escalated, investigated and closed.
async fn incident_cycle(c: &mut Cycle) {
    let (h, sm) = (actor("handler"), actor("sm"));
    c.step(&h, 10, incident("INC-1", incident_reported(Severity::High)))
        .await;
    c.step(&h, 10, incident("INC-1", triaged(Severity::High)))
        .await;
    let contained = IncidentContained {
        actions: t("yard locked"),
    };
    c.step(
        &h,
        11,
        incident("INC-1", IncidentCommand::Contain(contained)),
    )
    .await;
    let escalated = IncidentEscalated {
        authority: Authority::Police,
        reference: None,
    };
    c.step(
        &h,
        11,
        incident("INC-1", IncidentCommand::Escalate(escalated)),
    )
    .await;
    let investigated = IncidentInvestigated {
        root_cause: t("gate left open"),
        findings: t("no guard at night"),
    };
    c.step(
        &sm,
        12,
        incident("INC-1", IncidentCommand::Investigate(investigated)),
    )
    .await;
    let closed = IncidentClosed {
        summary: t("guard posted at night"),
    };
    c.step(&sm, 13, incident("INC-1", IncidentCommand::Close(closed)))
        .await;
}

/// 9.2 and 10: an audit finding raises a nonconformity; its corrective action is verified
/// ineffective (and reopened), completed again, verified effective; the nonconformity closes.
async fn improvement_cycle(c: &mut Cycle) {
    let (sm, deputy, auditor) = (actor("sm"), actor("deputy"), actor("auditor"));
    c.step(
        &sm,
        14,
        audit("AUD-1", audit_planned("HUB-NL", &auditor, day(15))),
    )
    .await;
    c.step(
        &auditor,
        15,
        audit(
            "AUD-1",
            AuditCommand::Conduct(AuditConducted {
                summary: t("seal checks"),
            }),
        ),
    )
    .await;
    let finding = AuditFinding {
        finding: id("F-1"),
        clause: c_("8.2"),
        grade: FindingGrade::Minor,
        description: t("seals unchecked"),
    };
    c.step(
        &auditor,
        15,
        audit("AUD-1", AuditCommand::RecordFinding(finding)),
    )
    .await;
    let raised = NonconformityRaised {
        description: t("Seal checks skipped"),
        clause: c_("8.2"),
        grade: NcGrade::Minor,
        audit: Some(id("AUD-1")),
        incident: None,
    };
    c.step(&sm, 16, nc("NC-1", NonconformityCommand::Raise(raised)))
        .await;
    c.step(&sm, 17, nc("NC-1", root_cause())).await;
    c.step(&sm, 18, ca("CA-1", ca_planned("NC-1", day(60), &sm)))
        .await;
    c.step(&sm, 20, ca("CA-1", ca_completed())).await;
    c.step(&deputy, 21, ca("CA-1", ca_verified(false))).await;
    match c
        .sms
        .stream(&ca("CA-1", ca_completed()).stream())
        .map(StreamState::body)
    {
        Some(Body::CorrectiveAction(action)) => {
            assert_eq!(action.reopened(), 1, "ineffective reopens")
        }
        other => panic!("CA-1 is {other:?}"),
    }
    c.step(&sm, 25, ca("CA-1", ca_completed())).await;
    c.step(&deputy, 26, ca("CA-1", ca_verified(true))).await;
    c.step(&sm, 27, nc("NC-1", nc_close("CA-1"))).await;
}

fn c_(s: &str) -> Code {
    domain::c(s)
}

/// 9.3: a management review scheduled, its inputs sealed to the ledger, held and closed.
async fn review_cycle(c: &mut Cycle, reader: &str) {
    let (ceo, sm) = (actor("ceo"), actor("sm"));
    c.step(&ceo, 28, review("MR-1", review_scheduled(&ceo)))
        .await;
    let size = c.get("/v1/entries?from=0&limit=1000", reader).await["entries"]
        .as_array()
        .unwrap()
        .len() as u64;
    let proof = c
        .get(
            &format!("/v1/proofs/consistency?from={size}&to={size}"),
            reader,
        )
        .await;
    let root = Digest::new(proof["first_root"].as_str().unwrap()).unwrap();
    let inputs = ReviewInputsSealed {
        tree_size: size,
        root,
        pack_digest: digest(),
    };
    c.step(&sm, 29, review("MR-1", ReviewCommand::SealInputs(inputs)))
        .await;
    c.step(
        &ceo,
        30,
        review(
            "MR-1",
            ReviewCommand::Hold(ReviewHeld {
                attendees: vec![ceo.clone(), sm.clone()],
            }),
        ),
    )
    .await;
    let decision = ReviewDecision {
        decision: id("D-1"),
        text: t("extend night guards"),
        owner: sm.clone(),
        due: Some(day(90)),
    };
    c.step(
        &ceo,
        30,
        review("MR-1", ReviewCommand::RecordDecision(decision)),
    )
    .await;
    c.step(
        &ceo,
        31,
        review(
            "MR-1",
            ReviewCommand::Close(ReviewClosed { note: t("done") }),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_28000_cycle_over_http_then_the_export_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    common::init(d);
    let mut tokens = HashMap::new();
    for (who, role) in cast() {
        let secret = token(d, who.as_str(), role);
        tokens.insert(who, secret);
    }
    let reader = token(d, "user:lead@cb.example", "auditor");
    let listed = ok(&["tokens", "list", "--data", d]);
    assert!(!listed.contains("cust_"), "a token list shows no secret");

    let server = Server::serve(d);
    let base = server.base.clone();
    let mut c = Cycle {
        http: reqwest::Client::new(),
        base,
        tokens,
        sms: Sms::new(),
    };
    for _ in 0..200 {
        if c.http
            .get(format!("{}/v1/ready", c.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    setup(&mut c).await;
    policy_cycle(&mut c).await;
    risk_cycle(&mut c).await;
    incident_cycle(&mut c).await;
    improvement_cycle(&mut c).await;
    review_cycle(&mut c, &reader).await;

    // The server's record is the local one, event for event, each by the token's principal.
    let entries = c.get("/v1/entries?from=2&limit=1000", &reader).await["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(entries.len() as u64, c.sms.event_count());
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    for t in [
        "policy.approved",
        "risk.accepted",
        "incident.escalated",
        "incident.closed",
        "corrective_action.verified",
        "nonconformity.closed",
        "review.inputs_sealed",
        "review.closed",
    ] {
        assert!(kinds.contains(&t), "{t} was recorded");
    }
    cosign_and_export(&c, &reader, tmp.path()).await;
}

/// An auditor cosigns the latest checkpoint; the exported tar unpacks to a bundle that
/// `custodia verify --bundle` accepts.
async fn cosign_and_export(c: &Cycle, reader: &str, tmp: &Path) {
    let sm = &c.tokens[&actor("sm")];
    let res = c
        .http
        .post(format!("{}/v1/checkpoints", c.base))
        .bearer_auth(sm)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let note: Value = res.json().await.unwrap();
    let checkpoint =
        custodia_ledger::note::SignedCheckpoint::parse(note["note"].as_str().unwrap()).unwrap();
    let witness = custodia_ledger::keys::SecretKey::generate();
    let line = custodia_ledger::note::cosign(
        checkpoint.checkpoint(),
        "cb.example/witness",
        witness.signing_key(),
        1_800_000_000,
    )
    .unwrap();
    let body = json!({"witness": "cb.example/witness", "key": witness.public().to_base64(), "cosignature": line.to_string()});
    let size = checkpoint.checkpoint().size;
    let url = format!("{}/v1/checkpoints/{size}/cosignatures", c.base);
    let res = c
        .http
        .post(url)
        .bearer_auth(reader)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = c
        .http
        .get(format!("{}/v1/export", c.base))
        .bearer_auth(reader)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-tar");
    let tar_bytes = res.bytes().await.unwrap();
    let out = tmp.join("unpacked");
    tar::Archive::new(&tar_bytes[..]).unpack(&out).unwrap();
    let bundle = out.join("bundle");
    let report = ok(&["verify", "--bundle", bundle.to_str().unwrap()]);
    assert!(report.contains("verified"), "{report}");
}

#[test]
fn demo_loads_verifies_and_summarizes_the_reference_scenario_and_a_rerun_only_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("custodia-data");
    let d = data.to_str().unwrap();
    let out = ok(&["demo", "--data", d]);
    for part in [
        "loaded",
        "top risks",
        "corrective actions",
        "KPI board:",
        "high risks with a treatment: ",
        "supplier screening coverage: ",
        "latest management review pack (excerpt): ",
        "nonconformities: ",
        "pack digest",
        "latest checkpoint",
        "verified",
    ] {
        assert!(out.contains(part), "{part:?} missing from:\n{out}");
    }
    let verified = out.lines().find(|l| l.starts_with("verified ")).unwrap();
    let count: u64 = verified.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(count > 5000, "{verified}");
    // The checkpoint is a signed note, printed verbatim; everything above it fits 100 columns.
    let summary = &out[..out.find("latest checkpoint").unwrap()];
    assert!(
        summary.lines().all(|l| l.chars().count() <= 100),
        "the summary fits a 100-column terminal:\n{summary}"
    );
    let again = ok(&["demo", "--data", d]);
    assert!(again.contains("already holds a ledger"), "{again}");
    assert!(again.contains(verified), "the same ledger: {again}");
    let report = ok(&["verify", "--data", d]);
    assert!(report.contains("verified"), "{report}");
}

#[test]
fn a_revoked_token_is_listed_as_revoked_and_cannot_be_revoked_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    common::init(d);
    token(d, "user:alice@acme.example", "risk_owner");
    let listed = ok(&["tokens", "list", "--data", d]);
    let id = listed.split_whitespace().next().unwrap().to_owned();
    assert!(
        listed.contains("user:alice@acme.example\trisk_owner"),
        "{listed}"
    );
    ok(&["tokens", "revoke", "--data", d, "--id", &id]);
    assert!(ok(&["tokens", "list", "--data", d]).contains("revoked"));
    let twice = output(&["tokens", "revoke", "--data", d, "--id", &id]);
    check(&twice, 2, "");
    let bad_role = output(&[
        "tokens",
        "create",
        "--data",
        d,
        "--principal",
        "user:bob@acme.example",
        "--role",
        "root",
    ]);
    check(&bad_role, 2, "--role root");
}
