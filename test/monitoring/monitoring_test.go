// Package monitoring validates deploy/monitoring: the alerting rules with
// promtool (syntax and a unit test per alert), the PrometheusRule against the
// plain rule file, and the dashboard's queries against the metrics the
// controller really exports.
package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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

// Every metric a dashboard panel or an alert queries must exist.
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
		"rest_client_request_duration_seconds", "leader_election_master_status",
	} {
		exported[name] = true
	}
	names := regexp.MustCompile(`\b(endpoints_controller|workqueue|rest_client|leader_election)_[a-z_]+`)
	for _, file := range []string{"dashboard.json", "alerts.rules.yaml"} {
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
