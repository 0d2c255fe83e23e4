// Command etcd runs the etcd server from go.etcd.io/etcd/server/v3 at the
// version that the pinned Kubernetes release requires, so the local control
// plane and envtest use the same storage as a real cluster.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
