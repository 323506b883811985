package framework

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// waitEtcdReady polls etcd's /health until it answers 200.
func (cp *ControlPlane) waitEtcdReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), cp.readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	return poll(ctx, cp.etcd, "etcd /health", func(ctx context.Context) error {
		return getOK(ctx, client, cp.EtcdURL+"/health")
	})
}

// waitAPIServerReady polls /readyz, then waits for what tests rely on but
// /readyz does not cover: the default ServiceCIDR must be Ready (else Service
// creation fails with "range is full"), and pods must be admitted.
func (cp *ControlPlane) waitAPIServerReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), cp.readyTimeout)
	defer cancel()
	client, err := rest.HTTPClientFor(cp.Config)
	if err != nil {
		return err
	}
	err = poll(ctx, cp.apiserver, "kube-apiserver /readyz", func(ctx context.Context) error {
		return getOK(ctx, client, cp.URL+"/readyz?verbose")
	})
	if err != nil {
		return err
	}

	ctx, cancel = context.WithTimeout(context.Background(), cp.readyTimeout)
	defer cancel()
	cs := Clientset(cp.Config)
	probe := MakePod(metav1.NamespaceDefault, "framework-readiness-probe", nil)
	return poll(ctx, cp.apiserver, "ServiceCIDR, default namespace and pod admission", func(ctx context.Context) error {
		sc, err := cs.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady) {
			return fmt.Errorf("ServiceCIDR kubernetes not Ready: %+v", sc.Status.Conditions)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{}); err != nil {
			return err
		}
		// A dry run goes through admission without storing anything.
		_, err = cs.CoreV1().Pods(metav1.NamespaceDefault).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	})
}

// poll calls fn every 100ms until it succeeds, ctx ends or p exits; errors
// carry the tail of p's log, which usually says what went wrong.
func poll(ctx context.Context, p *process, what string, fn func(context.Context) error) error {
	alive := func() error {
		if p.exited() {
			return fmt.Errorf("%s exited while waiting for %s\n%s", p.name, what, p.logTail(40))
		}
		return nil
	}
	return pollWhile(ctx, what, alive, func() string { return p.logTail(40) }, fn)
}

// pollWhile calls fn every 100ms, each call bounded to 5s, until it
// succeeds, ctx ends (the error then carries tail()) or alive fails.
func pollWhile(ctx context.Context, what string, alive func() error, tail func() string, fn func(context.Context) error) error {
	for {
		if err := alive(); err != nil {
			return err
		}
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %v\n%s", what, err, tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
