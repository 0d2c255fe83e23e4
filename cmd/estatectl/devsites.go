package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/localcp"
	"github.com/ukhomeoffice/estate/operators"
)

// siteClusterReconciler gives every Kubernetes-backed HostingSite of the
// local control plane its own kube-apiserver and kube-controller-manager,
// sharing the one etcd, and writes the kubeconfig Secret the site refers to.
// The local clusters take the place of the real clusters a department
// would connect.
type siteClusterReconciler struct {
	client client.Client
	cp     *localcp.ControlPlane
	log    logr.Logger

	// mu serialises cluster starts, because each takes seconds and memory.
	mu sync.Mutex
}

// siteKubeconfigKey is the Secret key used when the reference names none.
const siteKubeconfigKey = "kubeconfig"

func (r *siteClusterReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	site := &estatev1.HostingSite{}
	if err := r.client.Get(ctx, req.NamespacedName, site); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	conn := site.Spec.Connection
	if conn == nil || conn.KubeconfigSecretRef == nil || !site.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	ref := conn.KubeconfigSecretRef
	key := ref.Key
	if key == "" {
		key = siteKubeconfigKey
	}

	secret := &corev1.Secret{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret)
	switch {
	case err == nil && len(secret.Data[key]) > 0:
		return reconcile.Result{}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return reconcile.Result{}, err
	}

	// SECRET sites host the enclave, which must encrypt at rest and audit.
	enclaveSite := site.Spec.Accreditation == estatev1.Secret
	cluster, err := r.ensureCluster(ctx, site.Name, localcp.ClusterOptions{EncryptSecrets: enclaveSite, AuditLog: enclaveSite})
	if err != nil {
		return reconcile.Result{}, err
	}
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("reading kubeconfig of site cluster %s: %w", site.Name, err)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ref.Namespace}}
	if err := r.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return reconcile.Result{}, fmt.Errorf("creating namespace %s: %w", ref.Namespace, err)
	}
	secret = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name,
			Labels: map[string]string{"estate.homeoffice.gov.uk/site": site.Name}},
		Data: map[string][]byte{key: kubeconfig},
	}
	if err := r.client.Create(ctx, secret); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return reconcile.Result{}, fmt.Errorf("writing kubeconfig Secret %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		existing := &corev1.Secret{}
		if err := r.client.Get(ctx, client.ObjectKeyFromObject(secret), existing); err != nil {
			return reconcile.Result{}, err
		}
		existing.Data = secret.Data
		if err := r.client.Update(ctx, existing); err != nil {
			return reconcile.Result{}, err
		}
	}
	r.log.Info("Site cluster ready", "site", site.Name, "url", cluster.URL, "secret", ref.Namespace+"/"+ref.Name)
	return reconcile.Result{}, nil
}

// ensureCluster starts the site's API server once and installs the CRDs
// that operators write there.
func (r *siteClusterReconciler) ensureCluster(ctx context.Context, name string, opts localcp.ClusterOptions) (*localcp.Cluster, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cluster := r.cp.Cluster(name)
	if cluster == nil {
		r.log.Info("Starting a site cluster", "site", name)
		var err error
		cluster, err = r.cp.AddClusterWithOptions(ctx, name, opts)
		if err != nil {
			return nil, fmt.Errorf("starting the cluster of site %s: %w", name, err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.KubeconfigPath)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: operators.NewScheme()})
	if err != nil {
		return nil, err
	}
	installCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := installAllCRDs(installCtx, c); err != nil {
		return nil, fmt.Errorf("installing CRDs on the cluster of site %s: %w", name, err)
	}
	return cluster, nil
}

// addSiteClusters registers the reconciler with the dev manager.
func addSiteClusters(mgr ctrl.Manager, cp *localcp.ControlPlane, log logr.Logger) error {
	r := &siteClusterReconciler{client: mgr.GetClient(), cp: cp, log: log}
	return ctrl.NewControllerManagedBy(mgr).
		Named("dev-site-clusters").
		For(&estatev1.HostingSite{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		Complete(r)
}
