//go:build tools

// The commands scripts/control-planes.sh builds; importing them here keeps go.mod and go.sum complete.
package controlplanes

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
