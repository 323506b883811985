package metrics

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Every metric of the controller's own registry is in docs/metrics.md,
// vectors whose label values appear only later included: each method that
// records is called once before gathering. (test/e2e TestSecureServing
// checks a live scrape, library metrics included.)
func TestEveryMetricDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 {
			for _, name := range strings.Split(cells[1], ",") {
				documented[strings.Trim(strings.TrimSpace(name), "`")] = true
			}
		}
	}
	m := New()
	m.ObserveSync(0, nil)
	m.ObserveSync(0, errors.New("x"))
	m.CountSync(SyncResults[0])
	m.ObserveEventToWrite(Triggers[0], 0)
	m.ObserveQueueWait(0)
	m.SetLeader(true)
	m.SetShadowMismatches(1)
	m.ShadowDiffs([]string{"addresses"})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) < 10 {
		t.Fatalf("only %d metric families gathered", len(mfs))
	}
	for _, mf := range mfs {
		if !documented[mf.GetName()] {
			t.Errorf("%s (%s) is not in docs/metrics.md", mf.GetName(), mf.GetHelp())
		}
	}
}
