package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/endpoints-controller/endpoints-controller/test/framework"
)

// The ServiceMonitor and PrometheusRule CRDs come from this release of the
// Prometheus Operator's Go module, whose zip carries them in
// example/prometheus-operator-crd/ (its pkg/apis/monitoring submodule has
// only the Go types).
const (
	prometheusOperatorModule  = "github.com/prometheus-operator/prometheus-operator@v0.94.0"
	prometheusOperatorCRDsDir = "example/prometheus-operator-crd"
)

var prometheusOperatorCRDs = []string{"monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml"}

// TestManifestsPassServerSideDryRun: every kustomization under deploy/ (and
// the plain deploy/examples) renders, and the API server accepts every
// object of it in a server-side apply with dry-run: schemas (unknown
// fields fail: kubectl validates strictly), defaulting, admission, the
// Prometheus Operator's CRDs for ServiceMonitor and PrometheusRule. The
// CRDs and the namespaces the objects live in are created for real first
// (a namespaced dry-run needs its namespace), and removed again if this
// test created them. Then the cluster-wide names the manifests refer to
// must exist: the Deployment's PriorityClass.
func TestManifestsPassServerSideDryRun(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	installPrometheusOperatorCRDs(t)
	sources := []string{"deploy/examples"} // plain manifests, applied with -f
	err = filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			sources = append(sources, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sources)
	for _, want := range []string{"deploy", "deploy/base", "deploy/monitoring", "deploy/overlays/prometheus-operator", "deploy/overlays/shadow"} {
		if !slices.Contains(sources, want) {
			t.Fatalf("no kustomization in %s (found %v)", want, sources)
		}
	}

	cs := clientset()
	for _, src := range sources {
		manifest := renderManifests(t, filepath.Join(root, src))
		objs := decodeManifests(t, src, manifest)
		for _, ns := range manifestNamespaces(objs) {
			ensureNamespace(t, ns)
		}
		framework.Eventually(t, 30*time.Second, func() error { // a new CRD may take a moment to serve
			out, err := kubectl(t, cluster.ControlPlane, manifest, "apply", "--server-side", "--dry-run=server", "--force-conflicts",
				"--field-manager=e2e-dry-run", "-f", "-")
			if err != nil {
				return fmt.Errorf("kubectl apply --server-side --dry-run=server %s: %v\n%s", src, err, out)
			}
			t.Logf("%s: %d objects, server-side dry-run:\n%s", src, len(objs), out)
			return nil
		})
		for _, o := range objs {
			if o.GetKind() != "Deployment" {
				continue
			}
			pc, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "priorityClassName")
			if pc == "" {
				continue
			}
			if _, err := cs.SchedulingV1().PriorityClasses().Get(t.Context(), pc, metav1.GetOptions{}); err != nil {
				t.Errorf("%s: Deployment %s: PriorityClass %s: %v", src, o.GetName(), pc, err)
			}
		}
	}
}

// renderManifests is kubectl kustomize of dir, or the YAML files of a dir
// without a kustomization joined.
func renderManifests(t *testing.T, dir string) []byte {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err == nil {
		out, err := exec.Command(filepath.Join(cluster.BinDir, "kubectl"), "kustomize", dir).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderrOf(err))
		}
		return out
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no YAML files (%v)", dir, err)
	}
	var out bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes()
}

func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}

// decodeManifests splits a multi-document manifest into its objects.
func decodeManifests(t *testing.T, name string, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		o := &unstructured.Unstructured{}
		err := dec.Decode(&o.Object)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(o.Object) > 0 {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", name)
	}
	return objs
}

// encodeManifests joins objs into a multi-document manifest.
func encodeManifests(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes()
}

// manifestNamespaces are the namespaces objs create or put objects in.
func manifestNamespaces(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		ns := o.GetNamespace()
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			ns = o.GetName()
		}
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// kubectl runs kubectl against cp with stdin, with a discovery cache of
// its own (CRDs come and go).
func kubectl(t *testing.T, cp *framework.ControlPlane, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	args = append([]string{"--kubeconfig=" + cp.KubeconfigPath, "--cache-dir=" + t.TempDir()}, args...)
	cmd := exec.Command(filepath.Join(cp.BinDir, "kubectl"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.CombinedOutput()
}

// ensureNamespace creates namespace name unless it exists, waiting out an
// earlier one still terminating, and deletes it at the end if it created
// it. The namespace controller deletes what is left in it.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	cs := clientset()
	created := false
	framework.Eventually(t, convergeTimeout, func() error {
		ns, err := cs.CoreV1().Namespaces().Get(t.Context(), name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
			if _, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
				return err
			}
			created = true
			return nil
		case err != nil:
			return err
		case ns.DeletionTimestamp != nil:
			return fmt.Errorf("namespace %s from an earlier test is still terminating", name)
		}
		return nil
	})
	if created {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Logf("deleting namespace %s: %v", name, err)
			}
		})
	}
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installPrometheusOperatorCRDs creates the ServiceMonitor and
// PrometheusRule CRDs of prometheusOperatorModule unless they exist, waits
// until they are established, and deletes at the end those it created
// (other tests share the cluster).
func installPrometheusOperatorCRDs(t *testing.T) {
	t.Helper()
	dir := downloadModule(t, prometheusOperatorModule)
	client := dynamic.NewForConfigOrDie(cluster.Config).Resource(crdResource)
	for _, file := range prometheusOperatorCRDs {
		b, err := os.ReadFile(filepath.Join(dir, prometheusOperatorCRDsDir, file))
		if err != nil {
			t.Fatal(err)
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &crd.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := crd.GetName()
		_, err = client.Get(t.Context(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err = client.Create(t.Context(), crd, metav1.CreateOptions{}); err == nil {
				t.Logf("created CRD %s from %s", name, prometheusOperatorModule)
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := client.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
						t.Logf("deleting CRD %s: %v", name, err)
					}
				})
			}
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("CRD %s: %v", name, err)
		}
		framework.Eventually(t, 30*time.Second, func() error {
			got, err := client.Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
					return nil
				}
			}
			return fmt.Errorf("CRD %s not established yet", name)
		})
	}
}

// downloadModule fetches module@version through the Go module proxy (or
// the module cache) and returns its directory. Outside any module, so that
// neither go.mod nor go.sum of this repository changes.
func downloadModule(t *testing.T, module string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go, to download %s: %v", module, err)
	}
	cmd := exec.Command(goBin, "mod", "download", "-json", module)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" || info.Dir == "" {
		t.Fatalf("go mod download %s: %v %s %s\n%s", module, err, info.Error, stderrOf(err), out)
	}
	return info.Dir
}

// deployObjects are the objects of kustomization dir whose kind is one of
// kinds.
func deployObjects(t *testing.T, dir string, kinds ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range decodeManifests(t, dir, renderManifests(t, dir)) {
		if slices.Contains(kinds, o.GetKind()) {
			out = append(out, o)
		}
	}
	return out
}

// objectNames lists objs as kind/name, for logs.
func objectNames(objs []*unstructured.Unstructured) string {
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(names, " ")
}
