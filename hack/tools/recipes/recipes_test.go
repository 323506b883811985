package recipes

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	kubeadmapi "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm"
	kubeadmscheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme"
	kubeadmv1beta4 "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/controlplane"
	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

const recipesDir = "../../../deploy/recipes"

// builtinOff is what every recipe must set: kubeadm's own default
// --controllers (read from kubeadm's code, so a new default shows up here)
// with the built-in endpoints controller taken out.
func builtinOff(t *testing.T) string {
	t.Helper()
	def := controllersFlag(t, &kubeadmv1beta4.ClusterConfiguration{})
	if len(def) != 1 {
		t.Fatalf("kubeadm's default kube-controller-manager command has --controllers %q, want one", def)
	}
	return def[0] + ",-endpoints-controller"
}

// controllersFlag renders cfg with kubeadm's own code (defaults, conversion
// to the internal type, the static Pod manifests `kubeadm init` writes) and
// returns the values of every --controllers flag of kube-controller-manager.
func controllersFlag(t *testing.T, cfg *kubeadmv1beta4.ClusterConfiguration) []string {
	t.Helper()
	kubeadmscheme.Scheme.Default(cfg)
	var internal kubeadmapi.ClusterConfiguration
	if err := kubeadmscheme.Scheme.Convert(cfg, &internal, nil); err != nil {
		t.Fatalf("converting to kubeadm's internal ClusterConfiguration: %v", err)
	}
	pods := controlplane.GetStaticPodSpecs(&internal, &kubeadmapi.APIEndpoint{AdvertiseAddress: "127.0.0.1", BindPort: 6443}, nil)
	kcm, ok := pods["kube-controller-manager"]
	if !ok {
		t.Fatal("kubeadm rendered no kube-controller-manager Pod")
	}
	var values []string
	for _, arg := range kcm.Spec.Containers[0].Command {
		if v, ok := strings.CutPrefix(arg, "--controllers="); ok {
			values = append(values, v)
		}
	}
	return values
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recipesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// strict decodes like kind and kubeadm do, but fails on unknown or
// duplicate fields instead of warning.
func strict(t *testing.T, what string, data []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestKubeadm(t *testing.T) {
	want := builtinOff(t)
	var cfg kubeadmv1beta4.ClusterConfiguration
	strict(t, "kubeadm-cluster-configuration.yaml", read(t, "kubeadm-cluster-configuration.yaml"), &cfg)
	if gvk := cfg.GroupVersionKind(); gvk != kubeadmv1beta4.SchemeGroupVersion.WithKind("ClusterConfiguration") {
		t.Fatalf("apiVersion/kind %s, want kubeadm.k8s.io/v1beta4 ClusterConfiguration", gvk)
	}
	if got := controllersFlag(t, &cfg); !slices.Equal(got, []string{want}) {
		t.Errorf("kube-controller-manager gets --controllers %q, want just %q", got, want)
	}
}

// kindBase is the part of the ClusterConfiguration that kind v0.33
// generates (pkg/cluster/internal/kubeadm, not importable) which the
// recipe's patch touches.
const kindBase = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controllerManager:
  extraArgs:
    - name: enable-hostpath-provisioner
      value: "true"
`

func TestKind(t *testing.T) {
	want := builtinOff(t)
	var cluster kindv1alpha4.Cluster
	strict(t, "kind-cluster.yaml", read(t, "kind-cluster.yaml"), &cluster)
	if cluster.Kind != "Cluster" || cluster.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Fatalf("apiVersion/kind %s %s, want kind.x-k8s.io/v1alpha4 Cluster", cluster.APIVersion, cluster.Kind)
	}
	// Merge patches are decoded strictly as what they patch; the recipe
	// has none, but one added later gets the same check.
	for i, p := range cluster.KubeadmConfigPatches {
		var cfg kubeadmv1beta4.ClusterConfiguration
		strict(t, "kubeadmConfigPatches", []byte(p), &cfg)
		if cfg.Kind != "ClusterConfiguration" || cfg.APIVersion != "kubeadm.k8s.io/v1beta4" {
			t.Errorf("kubeadmConfigPatches[%d]: want apiVersion kubeadm.k8s.io/v1beta4 and kind ClusterConfiguration, got %q %q", i, cfg.APIVersion, cfg.Kind)
		}
	}
	base, err := yaml.YAMLToJSON([]byte(kindBase))
	if err != nil {
		t.Fatal(err)
	}
	patched := base
	for i, p := range cluster.KubeadmConfigPatchesJSON6902 {
		if p.Group != "kubeadm.k8s.io" || p.Version != "v1beta4" || p.Kind != "ClusterConfiguration" {
			t.Fatalf("kubeadmConfigPatchesJSON6902[%d] targets %s/%s %s, want kubeadm.k8s.io/v1beta4 ClusterConfiguration", i, p.Group, p.Version, p.Kind)
		}
		ops, err := yaml.YAMLToJSON([]byte(p.Patch))
		if err != nil {
			t.Fatalf("kubeadmConfigPatchesJSON6902[%d]: %v", i, err)
		}
		patch, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			t.Fatalf("kubeadmConfigPatchesJSON6902[%d]: %v", i, err)
		}
		if patched, err = patch.Apply(patched); err != nil {
			t.Fatalf("kubeadmConfigPatchesJSON6902[%d] on kind's ClusterConfiguration: %v", i, err)
		}
	}
	var cfg kubeadmv1beta4.ClusterConfiguration
	strict(t, "kind's ClusterConfiguration after the patches", patched, &cfg)
	if got := controllersFlag(t, &cfg); !slices.Equal(got, []string{want}) {
		t.Errorf("kube-controller-manager gets --controllers %q, want just %q", got, want)
	}
	if !slices.Contains(cfg.ControllerManager.ExtraArgs, kubeadmv1beta4.Arg{Name: "enable-hostpath-provisioner", Value: "true"}) {
		t.Errorf("the patch dropped kind's own extraArgs: %v", cfg.ControllerManager.ExtraArgs)
	}
}

// k0sClusterConfig mirrors the fields of k0s's ClusterConfig
// (github.com/k0sproject/k0s/pkg/apis/k0s/v1beta1) that the recipe sets:
// that module brings most of Kubernetes and Helm with it, too much for one
// map of flags. Strict decoding still rejects any field the recipe adds.
type k0sClusterConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		ControllerManager struct {
			ExtraArgs map[string]string `json:"extraArgs"`
		} `json:"controllerManager"`
	} `json:"spec"`
}

func TestK0s(t *testing.T) {
	want := builtinOff(t)
	var cfg k0sClusterConfig
	strict(t, "k0s-cluster-config.yaml", read(t, "k0s-cluster-config.yaml"), &cfg)
	if cfg.APIVersion != "k0s.k0sproject.io/v1beta1" || cfg.Kind != "ClusterConfig" {
		t.Fatalf("apiVersion/kind %s %s, want k0s.k0sproject.io/v1beta1 ClusterConfig", cfg.APIVersion, cfg.Kind)
	}
	if got := cfg.Spec.ControllerManager.ExtraArgs["controllers"]; got != want {
		t.Errorf("spec.controllerManager.extraArgs.controllers %q, want %q", got, want)
	}
}

// TestK3sRKE2: their config.yaml holds the server's flags by name; the
// value of kube-controller-manager-arg is a list of name=value.
func TestK3sRKE2(t *testing.T) {
	want := builtinOff(t)
	for _, name := range []string{"k3s-config.yaml", "rke2-config.yaml"} {
		var cfg struct {
			KubeControllerManagerArg []string `json:"kube-controller-manager-arg"`
		}
		strict(t, name, read(t, name), &cfg)
		if got := cfg.KubeControllerManagerArg; !slices.Equal(got, []string{"controllers=" + want}) {
			t.Errorf("%s: kube-controller-manager-arg %q, want [controllers=%s]", name, got, want)
		}
	}
}

// TestEveryRecipeChecked: a recipe added to deploy/recipes needs a test here.
func TestEveryRecipeChecked(t *testing.T) {
	checked := []string{"k0s-cluster-config.yaml", "k3s-config.yaml", "kind-cluster.yaml", "kubeadm-cluster-configuration.yaml", "rke2-config.yaml"}
	entries, err := os.ReadDir(recipesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".yaml" && !slices.Contains(checked, e.Name()) {
			t.Errorf("deploy/recipes/%s is checked by no test", e.Name())
		}
	}
}
