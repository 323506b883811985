package framework

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// KubeadmRecipe is the recipe whose --controllers value the cluster's
// kube-controller-manager runs with, so what the tests run and what users
// are told to run cannot drift (hack/tools/recipes checks that every
// recipe gives the same value, through kubeadm's and kind's own types).
const KubeadmRecipe = "deploy/recipes/kubeadm-cluster-configuration.yaml"

// BuiltinOffControllers reads the --controllers value that switches off
// kube-controller-manager's built-in endpoints controller from KubeadmRecipe.
// Only the fields needed are decoded: kubeadm's types live in hack/tools,
// out of this module.
func BuiltinOffControllers() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(root, KubeadmRecipe))
	if err != nil {
		return "", err
	}
	var cfg struct {
		ControllerManager struct {
			ExtraArgs []struct{ Name, Value string } `json:"extraArgs"`
		} `json:"controllerManager"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("%s: %w", KubeadmRecipe, err)
	}
	for _, arg := range cfg.ControllerManager.ExtraArgs {
		if arg.Name == "controllers" {
			return arg.Value, nil
		}
	}
	return "", fmt.Errorf("%s: no controllerManager.extraArgs entry named controllers", KubeadmRecipe)
}
