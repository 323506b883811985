package controller

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/endpoints-controller/endpoints-controller/pkg/lean"
)

func epAt(rv string) *v1.Endpoints {
	return &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", ResourceVersion: rv}}
}

func TestWrittenTracker(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	w := newWrittenTracker(clk)
	if cur, lag := w.current("k", epAt("5")); cur.ResourceVersion != "5" || lag {
		t.Fatalf("no record: got %s lag %v", cur.ResourceVersion, lag)
	}
	w.record("k", epAt("10"), true)
	if w.caughtUp("k", "9") || !w.caughtUp("k", "10") {
		t.Fatal("caughtUp: only the written version is an echo")
	}
	if _, ok := w.m["k"]; ok || !w.isCanonical("k", epAt("10")) {
		t.Fatal("caughtUp must drop the copy and keep the canonical mark")
	}
	for _, tc := range []struct {
		cached  *v1.Endpoints
		wantRV  string
		wantLag bool
	}{
		{epAt("9"), "10", true}, // cache behind our write
		{nil, "10", true},       // cache has not seen our create
		{epAt("10"), "10", false},
	} {
		w.record("k", epAt("10"), true)
		cur, lag := w.current("k", tc.cached)
		if cur.ResourceVersion != tc.wantRV || lag != tc.wantLag {
			t.Errorf("cached %v: got rv %s lag %v", tc.cached, cur.ResourceVersion, lag)
		}
	}
	// Someone wrote after us: theirs is current and the record goes.
	w.record("k", epAt("10"), true)
	if cur, lag := w.current("k", epAt("11")); cur.ResourceVersion != "11" || lag {
		t.Fatal("newer cache not taken")
	}
	if _, ok := w.m["k"]; ok {
		t.Fatal("record kept after the cache caught up")
	}
	// An old record is not trusted forever: up to writtenTTL, not after.
	w.record("k", epAt("20"), true)
	clk.Step(writtenTTL)
	if cur, lag := w.current("k", epAt("12")); cur.ResourceVersion != "20" || !lag {
		t.Fatal("record not trusted within writtenTTL")
	}
	clk.Step(time.Millisecond)
	if cur, lag := w.current("k", epAt("12")); cur.ResourceVersion != "12" || lag {
		t.Fatal("expired record still trusted")
	}
}

func TestWrittenTrackerCanonical(t *testing.T) {
	w := newWrittenTracker(clocktesting.NewFakeClock(time.Now()))
	w.record("k", epAt("10"), true)
	if !w.isCanonical("k", epAt("10")) || w.isCanonical("k", epAt("11")) || w.isCanonical("j", epAt("10")) {
		t.Fatal("isCanonical after a canonical write")
	}
	w.current("k", epAt("10")) // the cache caught up: still known canonical
	if !w.isCanonical("k", epAt("10")) {
		t.Fatal("canonical forgotten when the cache caught up")
	}
	w.record("k", epAt("12"), false)
	if w.isCanonical("k", epAt("12")) || w.isCanonical("k", epAt("10")) {
		t.Fatal("isCanonical after a non-canonical write")
	}
	w.record("k", epAt("13"), true)
	w.forget("k")
	if w.isCanonical("k", epAt("13")) {
		t.Fatal("isCanonical after forget")
	}
}

func encoded(t *testing.T, ep *v1.Endpoints) *lean.EncodedEndpoints {
	t.Helper()
	data, err := ep.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e := &lean.EncodedEndpoints{}
	if err := e.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	return e
}

func writtenEP(rv string) *v1.Endpoints {
	ep := epAt(rv)
	ep.Labels = map[string]string{"app": "web"}
	ep.Annotations = map[string]string{v1.EndpointsLastChangeTriggerTime: "t", "keep": "me"}
	ep.Subsets = []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{{IP: "10.0.0.1"}}}}
	return ep
}

// The echo of a write after its answer is the written object, trimmed as
// the cache keeps it, without touching the written object.
func TestWrittenEcho(t *testing.T) {
	w := newWrittenTracker(clocktesting.NewFakeClock(time.Now()))
	ep := writtenEP("10")
	w.record("k", ep, true)
	if w.echo("k", encoded(t, writtenEP("9"))) != nil || w.echo("other", encoded(t, ep)) != nil {
		t.Fatal("echo of a version not written")
	}
	got := w.echo("k", encoded(t, ep))
	if got == nil || len(got.Annotations) != 1 || got.Annotations["keep"] != "me" || &got.Subsets[0] != &ep.Subsets[0] {
		t.Fatalf("echo: %+v", got)
	}
	if len(ep.Annotations) != 2 {
		t.Error("echo modified the written object")
	}
}

// An echo that comes before the write's answer is recognised by its
// content: decoded over the sent subsets, and no change to re-check.
func TestWrittenEarlyEcho(t *testing.T) {
	w := newWrittenTracker(clocktesting.NewFakeClock(time.Now()))
	sent := writtenEP("9")
	enc, err := lean.EncodeEndpoints(sent)
	if err != nil {
		t.Fatal(err)
	}
	w.send("k", enc)
	stored := writtenEP("10")
	got := w.echo("k", encoded(t, stored))
	if got == nil || got.ResourceVersion != "10" || &got.Subsets[0] != &sent.Subsets[0] || len(got.Annotations) != 1 {
		t.Fatalf("early echo: %+v", got)
	}
	if !w.caughtUp("k", "10") || w.caughtUp("k", "11") {
		t.Fatal("caughtUp: the early echo is ours, nothing else")
	}
	w.record("k", stored, true)
	if _, ok := w.m["k"]; ok || !w.isCanonical("k", stored) {
		t.Fatal("record after an early echo: the cache has it already")
	}

	// Other content while a write is in flight: someone else's, decoded in full.
	w.send("k", enc)
	other := writtenEP("11")
	other.Subsets[0].Addresses[0].IP = "10.0.0.2"
	if got := w.echo("k", encoded(t, other)); got == nil || got.Subsets[0].Addresses[0].IP != "10.0.0.2" || w.caughtUp("k", "11") {
		t.Fatalf("foreign change: %+v", got)
	}
}
