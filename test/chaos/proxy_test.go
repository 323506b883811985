package chaos

import (
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
)

// faultProxy stands between the controller and the real kube-apiserver:
// plain HTTP on loopback in front, the admin client certificate behind.
// While enabled it injects, on a seeded schedule, the faults a controller
// meets in real clusters.
type faultProxy struct {
	URL     string
	enabled atomic.Bool
	faults  atomic.Int64

	mu  sync.Mutex
	rng *rand.Rand

	srv *http.Server
	rp  *httputil.ReverseProxy
}

func startFaultProxy(upstream *rest.Config, seed uint64) (*faultProxy, error) {
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{URL: "http://" + ln.Addr().String(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	p.rp = httputil.NewSingleHostReverseProxy(target)
	p.rp.Transport = transport
	p.rp.FlushInterval = -1 // stream watch events as they come
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *faultProxy) Close() { _ = p.srv.Close() }

// chance reports true with probability f, from the seeded source.
func (p *faultProxy) chance(f float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < f
}

func (p *faultProxy) duration(max time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(p.rng.Int64N(int64(max)))
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.enabled.Load() {
		p.rp.ServeHTTP(w, r)
		return
	}
	isWatch := r.URL.Query().Get("watch") == "true" || strings.Contains(r.URL.Path, "/watch/")
	isWrite := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete || r.Method == http.MethodPatch
	switch {
	case p.chance(0.03):
		p.faults.Add(1)
		resetConnection(w)
		return
	case isWrite && p.chance(0.2):
		p.faults.Add(1)
		codes := []int{http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
		code := codes[p.duration(time.Duration(len(codes)))]
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected fault","code":`+strconv.Itoa(code)+`}`)
		return
	case isWatch:
		p.faults.Add(1)
		p.rp.ServeHTTP(&faultyWatch{ResponseWriter: w, p: p, cutAt: time.Now().Add(p.duration(5 * time.Second))}, r)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// resetConnection drops the TCP connection without an answer.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST, not FIN
	}
	_ = conn.Close()
}

// faultyWatch delays watch events by up to two seconds and cuts the stream
// at cutAt.
type faultyWatch struct {
	http.ResponseWriter
	p     *faultProxy
	cutAt time.Time
}

func (f *faultyWatch) Write(b []byte) (int, error) {
	if time.Now().After(f.cutAt) {
		return 0, io.ErrClosedPipe // the reverse proxy ends the stream
	}
	if f.p.chance(0.3) {
		time.Sleep(f.p.duration(2 * time.Second))
	}
	return f.ResponseWriter.Write(b)
}

func (f *faultyWatch) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}
