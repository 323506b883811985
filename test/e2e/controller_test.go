package e2e

import (
	"context"
	"crypto/tls"
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

// controller is one of our controller processes with its HTTPS endpoints.
type controller struct {
	*framework.Controller
	URL        string // https://127.0.0.1:PORT, the secure port
	MetricsURL string // URL/metrics, read with the metrics reader's token
	HealthURL  string // URL (append /healthz, /livez or /readyz)
}

// startController runs our binary serving HTTPS on a free loopback port,
// plus args, waits until it serves /healthz and stops it when the test
// ends. A port grabbed by someone else in between means a retry.
func startController(t *testing.T, args ...string) *controller {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, err := framework.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ctrl, err := cluster.StartController(append([]string{
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
		}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		url := "https://127.0.0.1:" + strconv.Itoa(port)
		c := &controller{Controller: ctrl, URL: url, MetricsURL: url + "/metrics", HealthURL: url}
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
		if err == nil && code == http.StatusOK && strings.Contains(c.LogTail(50), "Serving securely on "+strings.TrimPrefix(c.URL, "https://")) {
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
	token, err := metricsReaderToken()
	if err != nil {
		return "", err
	}
	code, body, err := getAs(c.MetricsURL, token)
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

func get(url string) (int, string, error) { return getAs(url, "") }

// insecureClient talks to the controller's self-signed HTTPS port.
var insecureClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

// getAs GETs url with a bearer token, none when empty.
func getAs(url, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := insecureClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}
