package apitransport

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// silentServer answers plain requests at once; a watch gets its headers and
// then nothing, as over a connection that went silent. It counts closed
// connections.
func silentServer(t *testing.T) (srv *httptest.Server, closed *atomic.Int32, watchTimeout chan string) {
	closed = new(atomic.Int32)
	watchTimeout = make(chan string, 1)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") != "true" {
			_, _ = io.WriteString(w, "{}")
			return
		}
		watchTimeout <- r.URL.Query().Get("timeoutSeconds")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, closed, watchTimeout
}

func TestHTTP1WatchEndsWhenTheServerMissesItsWindow(t *testing.T) {
	srv, closed, watchTimeout := silentServer(t)
	clk := clocktesting.NewFakeClock(time.Now())
	g := &http1Guard{base: &http.Transport{}, deadAfter: 2 * time.Second, minWindow: 5 * time.Second, clock: clk}
	client := &http.Client{Transport: g}

	resp, err := client.Get(srv.URL + "/api/v1/pods?watch=true&timeoutSeconds=600")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A pooled connection, which the dead watch must take down with it.
	plain, err := client.Get(srv.URL + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, plain.Body)
	plain.Body.Close()
	if got := <-watchTimeout; got < "5" || got > "9" || len(got) != 1 {
		t.Errorf("timeoutSeconds = %s, want 5-9 (shortened from 600)", got)
	}
	read := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); read <- err }()

	clk.Step(6 * time.Second) // within window + deadAfter for any window
	select {
	case err := <-read:
		t.Fatalf("the watch ended before its deadline: %v", err)
	default:
	}
	clk.Step(5 * time.Second) // past 9s + 2s
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("the silent watch ended with %v, want io.EOF as when the server ends it", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the silent watch did not end at its deadline")
	}
	// Both the watch's and the idle connection are closed.
	deadline := time.Now().Add(10 * time.Second)
	for closed.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := closed.Load(); n < 2 {
		t.Errorf("%d connections closed, want the watch's and the idle one", n)
	}
}

// A watch list keeps the server's timeout, since its initial events may take
// long, and is ended once quiet past the window.
func TestHTTP1WatchListKeepsItsTimeout(t *testing.T) {
	srv, _, watchTimeout := silentServer(t)
	clk := clocktesting.NewFakeClock(time.Now())
	g := &http1Guard{base: &http.Transport{}, deadAfter: time.Second, minWindow: 5 * time.Second, clock: clk}
	resp, err := (&http.Client{Transport: g}).Get(srv.URL + "/api/v1/pods?watch=true&sendInitialEvents=true&timeoutSeconds=600")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := <-watchTimeout; got != "600" {
		t.Errorf("timeoutSeconds = %s, want 600: the initial events of a watch list may take long", got)
	}
	read := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); read <- err }()
	clk.Step(11 * time.Second)
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("the quiet watch list ended with %v, want io.EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the quiet watch list was not ended after its window")
	}
}

func TestHTTP1RequestWithoutHeadersClosesIdleConnections(t *testing.T) {
	block, arrived := make(chan struct{}), make(chan struct{})
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(block)
	g := &http1Guard{base: &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}, deadAfter: 100 * time.Millisecond, minWindow: time.Second}
	client := &http.Client{Transport: g}
	slow := make(chan error, 1)
	go func() { _, err := client.Get(srv.URL + "/slow"); slow <- err }()
	<-arrived
	// A pooled connection, opened while the slow request waits.
	resp, err := client.Get(srv.URL + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-slow; err == nil || !isTimeout(err) {
		t.Fatalf("got %v, want a timeout awaiting headers", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for closed.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := closed.Load(); n < 2 {
		t.Errorf("%d connections closed, want the slow one's and the idle one", n)
	}
}
