// Package recipes checks the files in deploy/recipes, which switch off
// kube-controller-manager's built-in endpoints controller on kubeadm, kind,
// k0s, k3s and RKE2: each is decoded strictly with the upstream Go types
// where they are cheap to have (kubeadm's, kind's), rendered through
// kubeadm's own code, and must give the one --controllers value that
// test/framework runs kube-controller-manager with.
package recipes
