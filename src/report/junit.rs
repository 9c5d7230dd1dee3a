//! `junit.xml`: one test suite per scenario, one test case per check, for CI systems that
//! show test results. A failed check is a `failure` carrying its detail and examples; an
//! undecided one (`unknown`) is an `error`. Rendered only from [`RunResult`]s.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::check::Verdict;
use crate::report::RunResult;

/// The JUnit XML of one or more results.
pub fn render(results: &[&RunResult]) -> Result<String, String> {
    let mut report = Report::new("kafka-harness");
    for result in results {
        let mut suite = TestSuite::new(result.scenario.as_str());
        for check in &result.checks {
            let status = match check.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                failed => {
                    let kind = if failed == Verdict::Fail {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    status.set_message(format!("{}: {}", check.name, check.detail));
                    status.set_type(check.verdict.as_str());
                    let examples: Vec<String> = check
                        .examples
                        .iter()
                        .map(|e| serde_json::to_string(e).unwrap_or_default())
                        .collect();
                    if !examples.is_empty() {
                        status.set_description(examples.join("\n"));
                    }
                    status
                }
            };
            let mut case = TestCase::new(check.name.as_str(), status);
            case.set_classname(format!("{}.{}", result.scenario, result.cluster.kind));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckResult, Example};

    fn result() -> RunResult {
        let mut r = RunResult {
            scenario: "<script>alert(1)</script>".into(),
            run_id: "r".into(),
            verdict: Verdict::Fail,
            seed: 1,
            ..RunResult::default()
        };
        let mut lost = CheckResult::unknown("lost_write", "1 of 9 lost & gone".into());
        lost.verdict = Verdict::Fail;
        lost.count = 1;
        lost.examples.push(Example {
            note: "acknowledged, never in the log".into(),
            ..Example::default()
        });
        r.checks = vec![
            lost,
            CheckResult::unknown("phantom", "log unreadable".into()),
            CheckResult::slo("ack_p99", true, 1.0, 2.0, "fine".into()),
        ];
        r
    }

    #[test]
    fn one_case_per_check_with_failures_and_errors() {
        let r = result();
        let xml = render(&[&r, &r]).unwrap();
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suites: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 2);
        // The scenario name is text, escaped, not markup.
        assert_eq!(
            suites[0].attribute("name"),
            Some("<script>alert(1)</script>")
        );
        assert!(!xml.contains("<script>"));
        let cases: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        let failure = cases[0]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(
            failure.attribute("message"),
            Some("lost_write: 1 of 9 lost & gone")
        );
        assert!(failure.text().unwrap().contains("never in the log"));
        assert!(cases[1].children().any(|n| n.has_tag_name("error")));
        assert_eq!(cases[2].children().filter(|n| n.is_element()).count(), 0);
    }
}
