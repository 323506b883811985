// Command etcd is the etcd server, built from the Go module the kube-apiserver
// of this tools module was released with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
