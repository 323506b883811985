package framework

import (
	"context"
	"fmt"
	"net/http"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Fake nodes carry the annotation kwok manages (see its
// --manage-nodes-with-annotation-selector) and a label pods select them by.
const (
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	KwokNodeLabel      = "type"
	KwokNodeValue      = "kwok" // label value; the annotation's is "fake"
)

// createNodes registers n fake nodes. No taint keeps them simple: pods only
// need a nodeSelector type=kwok (and every schedulable pod lands on one).
func (c *Cluster) createNodes(n int) error {
	cs := Clientset(c.Config)
	ctx, cancel := context.WithTimeout(context.Background(), c.readyTimeout)
	defer cancel()
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &v1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KwokNodeAnnotation: "fake"},
			Labels: map[string]string{
				KwokNodeLabel:            KwokNodeValue,
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		c.Nodes = append(c.Nodes, name)
	}
	return nil
}

// waitNodesReady waits until kwok reports every node Ready and
// kube-controller-manager has lifted the not-ready taint the API server puts
// on new nodes (the scheduler would skip them until then).
func (c *Cluster) waitNodesReady() error {
	cs := Clientset(c.Config)
	return c.wait("nodes Ready and untainted", func(ctx context.Context) error {
		for _, name := range c.Nodes {
			node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			ready := false
			for _, cond := range node.Status.Conditions {
				if cond.Type == v1.NodeReady && cond.Status == v1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				return fmt.Errorf("node %s not Ready yet", name)
			}
			for _, t := range node.Spec.Taints {
				if t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute {
					return fmt.Errorf("node %s still has taint %s", name, t.ToString())
				}
			}
		}
		return nil
	})
}

// waitPodsRun proves the scheduler and kwok work together: a probe pod must
// be bound, turn Running with an IP, and be gone again after deletion.
func (c *Cluster) waitPodsRun() error {
	cs := Clientset(c.Config)
	pods := cs.CoreV1().Pods(metav1.NamespaceDefault)
	probe := MakePod(metav1.NamespaceDefault, "framework-cluster-probe", nil, func(p *v1.Pod) {
		p.Spec.NodeSelector = map[string]string{KwokNodeLabel: KwokNodeValue}
	})
	ctx, cancel := context.WithTimeout(context.Background(), c.readyTimeout)
	defer cancel()
	if _, err := pods.Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the probe pod: %w", err)
	}
	err := c.wait("a probe pod scheduled and Running", func(ctx context.Context) error {
		p, err := pods.Get(ctx, probe.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName == "" || p.Status.Phase != v1.PodRunning || p.Status.PodIP == "" {
			return fmt.Errorf("probe pod: node %q, phase %s, IP %q", p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := pods.Delete(ctx, probe.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		return err
	}
	return c.wait("the probe pod gone", func(ctx context.Context) error {
		_, err := pods.Get(ctx, probe.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("probe pod still there (%v)", err)
	})
}

func (c *Cluster) waitKwokHealthy() error {
	client := &http.Client{Timeout: 5 * time.Second}
	return c.wait("kwok /healthz", func(ctx context.Context) error {
		return getOK(ctx, client, c.KwokURL+"/healthz")
	})
}

// wait is poll for the cluster: it gives up early, with the log tail, when
// one of kube-controller-manager, kube-scheduler or kwok exits.
func (c *Cluster) wait(what string, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.readyTimeout)
	defer cancel()
	alive := func() error {
		if err := c.checkRunning(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		return nil
	}
	tail := func() string { return c.kcm.logTail(15) + "\n" + c.kwok.logTail(15) }
	return pollWhile(ctx, what, alive, tail, fn)
}
