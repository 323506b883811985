// Package monitoring validates deploy/monitoring: the alerting rules with
// promtool (syntax and a unit test per alert), the PrometheusRule against the
// plain rule file, each alert's runbook in docs/runbooks.md, and the
// dashboard's queries against the metrics the controller really exports.
package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/endpoints-controller/endpoints-controller/pkg/metrics"
	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

func dir(t *testing.T) string {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", "monitoring")
}

func TestRulesWithPromtool(t *testing.T) {
	bin, err := framework.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "alerts.rules.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(filepath.Join(bin, "promtool"), args...)
		cmd.Dir = dir(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
		t.Logf("promtool %v:\n%s", args, out)
	}
}

func TestPrometheusRuleMatchesRuleFile(t *testing.T) {
	var plain struct {
		Groups any `json:"groups"`
	}
	var crd struct {
		Spec struct {
			Groups any `json:"groups"`
		} `json:"spec"`
	}
	read(t, "alerts.rules.yaml", &plain)
	read(t, "prometheusrule.yaml", &crd)
	if !reflect.DeepEqual(plain.Groups, crd.Spec.Groups) {
		t.Fatal("prometheusrule.yaml's groups differ from alerts.rules.yaml")
	}
}

// Every alert, in the rule file and in the PrometheusRule, links its section
// of docs/runbooks.md on the repository's GitHub page (the module path names
// the repository), and every link within docs/runbooks.md resolves.
func TestEveryAlertHasARunbook(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module (github\.com/\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod: no github.com module path")
	}
	prefix := "https://" + string(m[1]) + "/blob/main/docs/runbooks.md#"
	doc, err := os.ReadFile(filepath.Join(root, "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := headingAnchors(string(doc))

	type rules []struct {
		Rules []struct {
			Alert       string            `json:"alert"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	}
	var plain struct {
		Groups rules `json:"groups"`
	}
	var crd struct {
		Spec struct {
			Groups rules `json:"groups"`
		} `json:"spec"`
	}
	read(t, "alerts.rules.yaml", &plain)
	read(t, "prometheusrule.yaml", &crd)
	alerts := map[string]bool{}
	for file, groups := range map[string]rules{"alerts.rules.yaml": plain.Groups, "prometheusrule.yaml": crd.Spec.Groups} {
		n := 0
		for _, g := range groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue // a recording rule
				}
				n++
				alerts[r.Alert] = true
				url := r.Annotations["runbook_url"]
				anchor, ok := strings.CutPrefix(url, prefix)
				switch {
				case !ok:
					t.Errorf("%s: %s: runbook_url %q, want %s<anchor>", file, r.Alert, url, prefix)
				case anchor != headingAnchor(r.Alert):
					t.Errorf("%s: %s: runbook_url's anchor %q, want the alert's own section %q", file, r.Alert, anchor, headingAnchor(r.Alert))
				case !anchors[anchor]:
					t.Errorf("%s: %s: docs/runbooks.md has no heading for #%s", file, r.Alert, anchor)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no alerts", file)
		}
	}
	for _, link := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(string(doc), -1) {
		if !anchors[link[1]] {
			t.Errorf("docs/runbooks.md links #%s, which is no heading", link[1])
		}
	}
	// The docs name alerts too (docs/metrics.md once named one that never
	// existed): each name must be a real alert.
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, f := range append(docs, filepath.Join(root, "README.md")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range regexp.MustCompile(`EndpointsController[A-Z][A-Za-z]+`).FindAllString(string(b), -1) {
			if !alerts[name] {
				t.Errorf("%s names alert %s, which no rule file defines", filepath.Base(f), name)
			}
		}
	}
}

// headingAnchors are the anchors GitHub gives the Markdown headings of doc.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	for _, h := range regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`).FindAllStringSubmatch(doc, -1) {
		anchors[headingAnchor(h[1])] = true
	}
	return anchors
}

// headingAnchor is GitHub's anchor for a heading: lower case, punctuation
// dropped, spaces to hyphens. Hand-written: Markdown libraries' heading IDs
// follow other rules, and these headings are plain words.
func headingAnchor(heading string) string {
	s := regexp.MustCompile(`[^\p{L}\p{N} _-]`).ReplaceAllString(strings.ToLower(heading), "")
	return strings.ReplaceAll(s, " ", "-")
}

// Every metric a dashboard panel, an alert or a runbook queries must exist.
func TestQueriesUseExportedMetrics(t *testing.T) {
	m := metrics.New()
	exported := map[string]bool{}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	// Vectors without samples are not gathered: list them by hand.
	for _, name := range []string{
		"endpoints_controller_sync_duration_seconds", "endpoints_controller_shadow_diffs_total",
		// kube-controller-manager's names, from component-base.
		"workqueue_depth", "workqueue_retries_total", "workqueue_queue_duration_seconds",
		"workqueue_adds_total", "workqueue_work_duration_seconds", "workqueue_unfinished_work_seconds",
		"workqueue_longest_running_processor_seconds", "rest_client_requests_total",
		"rest_client_request_duration_seconds", "rest_client_rate_limiter_duration_seconds",
		"leader_election_master_status",
	} {
		exported[name] = true
	}
	names := regexp.MustCompile(`\b(endpoints_controller|workqueue|rest_client|leader_election)_[a-z_]+`)
	for _, file := range []string{"dashboard.json", "alerts.rules.yaml", "../../docs/runbooks.md"} {
		b, err := os.ReadFile(filepath.Join(dir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		if file == "dashboard.json" && !json.Valid(b) {
			t.Fatal("dashboard.json is not valid JSON")
		}
		for _, n := range names.FindAllString(string(b), -1) {
			base := regexp.MustCompile(`_(bucket|count|sum)$`).ReplaceAllString(n, "")
			if !exported[base] {
				t.Errorf("%s queries %s, which the controller does not export", file, n)
			}
		}
	}
}

func read(t *testing.T, name string, into any) {
	b, err := os.ReadFile(filepath.Join(dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
