package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// TestProbes: /readyz fails (500, as the apiserver library's probes do)
// until the informer caches have synced and is 200 after; /healthz is 200
// throughout. Delegated authentication and authorization talk to the API
// server directly: they do not gate the probes. To hold the controller before its
// caches sync, deterministically, it talks to the API server through a TCP
// proxy that accepts connections but forwards nothing until released.
func TestProbes(t *testing.T) {
	gate := startGateProxy(t, strings.TrimPrefix(cluster.URL, "https://"))
	c := startController(t, "--leader-elect=false", "--kubeconfig="+framework.KubeconfigVia(t, cluster.KubeconfigPath, "https://"+gate.addr),
		"--authentication-kubeconfig="+cluster.KubeconfigPath, "--authorization-kubeconfig="+cluster.KubeconfigPath)

	for range 5 { // over a second: it stays unready while held
		code, body, err := get(c.HealthURL + "/readyz")
		if err != nil || code != http.StatusInternalServerError || !strings.Contains(body, "[-]informer-sync failed") {
			t.Fatalf("/readyz while the API server is unreachable: %d %q %v, want 500", code, body, err)
		}
		if code, body, err := get(c.HealthURL + "/healthz"); err != nil || code != http.StatusOK {
			t.Fatalf("/healthz while unready: %d %q %v, want 200", code, body, err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	released := time.Now()
	gate.release()
	c.waitReady(t)
	t.Logf("/readyz 200 %s after the API server became reachable", time.Since(released).Round(10*time.Millisecond))
	if code, body, err := get(c.HealthURL + "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz when ready: %d %q %v, want 200", code, body, err)
	}
}

// gateProxy forwards TCP connections to upstream, but only once released;
// until then accepted connections just wait (TLS handshakes included).
type gateProxy struct {
	addr     string
	upstream string
	ln       net.Listener
	open     chan struct{}
	once     sync.Once

	mu    sync.Mutex
	conns []net.Conn
}

func startGateProxy(t *testing.T, upstream string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateProxy{addr: ln.Addr().String(), upstream: upstream, ln: ln, open: make(chan struct{})}
	go g.serve()
	t.Cleanup(g.close)
	return g
}

func (g *gateProxy) release() { g.once.Do(func() { close(g.open) }) }

func (g *gateProxy) serve() {
	for {
		conn, err := g.ln.Accept()
		if err != nil {
			return // closed
		}
		g.track(conn)
		go g.forward(conn)
	}
}

func (g *gateProxy) forward(conn net.Conn) {
	<-g.open
	up, err := net.Dial("tcp", g.upstream)
	if err != nil {
		conn.Close()
		return
	}
	g.track(up)
	go func() { io.Copy(up, conn); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

func (g *gateProxy) track(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conns = append(g.conns, c)
}

// close stops accepting and cuts every connection, held or forwarded.
func (g *gateProxy) close() {
	g.ln.Close()
	g.release()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.Close()
	}
}
