package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// controller is one of our controller processes with its HTTP endpoints.
type controller struct {
	*framework.Controller
	MetricsURL string // http://127.0.0.1:PORT/metrics
	HealthURL  string // http://127.0.0.1:PORT (append /healthz or /readyz)
}

// startController runs our binary with free loopback ports for metrics and
// probes plus args, waits until it serves /healthz and stops it when the
// test ends. A port grabbed by someone else in between means a retry.
func startController(t *testing.T, args ...string) *controller {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports, err := framework.FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		metrics, health := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
		ctrl, err := cluster.StartController(append([]string{
			"--metrics-bind-address=" + metrics,
			"--health-probe-bind-address=" + health,
		}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		c := &controller{Controller: ctrl, MetricsURL: "http://" + metrics + "/metrics", HealthURL: "http://" + health}
		t.Cleanup(func() {
			c.Stop()
			if t.Failed() {
				t.Logf("%s", c.LogTail(40))
			}
		})
		err = c.waitServing()
		if err == nil {
			return c
		}
		if attempt == 3 || !strings.Contains(c.LogTail(20), "address already in use") {
			t.Fatalf("%s: %v\n%s", c.Name, err, c.LogTail(40))
		}
	}
}

// waitServing waits until /healthz answers 200, which it does as soon as
// the process has parsed its flags and listened: before caches sync.
func (c *controller) waitServing() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c.Exited() {
			return fmt.Errorf("exited with code %d", c.ExitCode())
		}
		// The log line proves the 200 is ours, not from whoever else might
		// have grabbed the port.
		code, _, err := get(c.HealthURL + "/healthz")
		if err == nil && code == http.StatusOK && strings.Contains(c.LogTail(50), `address="`+strings.TrimPrefix(c.HealthURL, "http://")+`"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz not 200 within 30s: %d %v", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits until /readyz is 200: caches synced.
func (c *controller) waitReady(t *testing.T) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		code, body, err := get(c.HealthURL + "/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%s /readyz: %d %q %v", c.Name, code, body, err)
		}
		return nil
	})
}

// metrics scrapes /metrics.
func (c *controller) metrics(t *testing.T) string {
	t.Helper()
	body, err := c.scrape()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func (c *controller) scrape() (string, error) {
	code, body, err := get(c.MetricsURL)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("status %d", code)
	}
	if err != nil {
		return "", fmt.Errorf("%s /metrics: %w", c.Name, err)
	}
	return body, nil
}

// log returns the whole log (LogTail may cut off early lines).
func (c *controller) log() string {
	data, _ := os.ReadFile(c.LogPath)
	return string(data)
}

// metric sums the samples of name in a scrape whose labels contain every
// one of labels (written like `result="success"`); absent means 0.
func metric(scrape, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(scrape, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest == "" || (rest[0] != ' ' && rest[0] != '{')) {
			continue
		}
		matched := true
		for _, l := range labels {
			matched = matched && strings.Contains(rest, l)
		}
		fields := strings.Fields(rest)
		if !matched || len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// writes is how many syncs of a controller have written Endpoints.
func (c *controller) writes(t *testing.T) float64 {
	scrape := c.metrics(t)
	var n float64
	for _, result := range []string{"created", "updated", "deleted"} {
		n += metric(scrape, "endpoints_controller_syncs_total", `result="`+result+`"`)
	}
	return n
}

func get(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
