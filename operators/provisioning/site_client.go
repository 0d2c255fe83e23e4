package provisioning

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/provisioning"
)

// defaultKubeconfigKey is the Secret key the CRD defaults
// kubeconfigSecretRef.key to; objects built in Go may leave it empty.
const defaultKubeconfigKey = "kubeconfig"

// connectionError means a site's connection settings cannot be used: the
// kubeconfig Secret or key is missing or the kubeconfig does not parse. The
// message names what is missing and how to fix it.
type connectionError struct{ message string }

func (e *connectionError) Error() string { return e.message }

// siteClients builds one client per Kubernetes-backed site and keeps it
// until the site's kubeconfig Secret changes (a new resourceVersion) or the
// site refers to another Secret. It is safe for concurrent use.
type siteClients struct {
	// reader reads Secrets directly from the API server. A cached client
	// would watch and hold every Secret of the management cluster.
	reader  client.Reader
	timeout time.Duration
	mapper  meta.RESTMapper
	scheme  *runtime.Scheme

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	ref             estatev1.SecretKeyReference
	resourceVersion string
	client          client.Client
}

func newSiteClients(reader client.Reader, timeout time.Duration) *siteClients {
	// Every object is applied as unstructured with a kind known in
	// advance, so a static mapper saves the discovery round trips that a
	// dynamic one makes to each site.
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, k := range provisioning.Kinds() {
		scope := meta.RESTScopeRoot
		if k.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		mapper.Add(k.GroupVersionKind, scope)
	}
	return &siteClients{
		reader:  reader,
		timeout: timeout,
		mapper:  mapper,
		scheme:  runtime.NewScheme(),
		clients: map[string]cachedClient{},
	}
}

// forSite returns a client of the site's API server. It returns a
// *connectionError when the site has no usable kubeconfig, and any other
// error when the Secret could not be read.
func (s *siteClients) forSite(ctx context.Context, site *estatev1.HostingSite) (client.Client, error) {
	if site.Spec.Connection == nil || site.Spec.Connection.KubeconfigSecretRef == nil {
		return nil, &connectionError{fmt.Sprintf("hosting site %s has no spec.connection.kubeconfigSecretRef", site.Name)}
	}
	ref := *site.Spec.Connection.KubeconfigSecretRef
	if ref.Key == "" {
		ref.Key = defaultKubeconfigKey
	}

	secret := &corev1.Secret{}
	readCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.reader.Get(readCtx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &connectionError{fmt.Sprintf("kubeconfig Secret %s/%s of hosting site %s not found: create it or fix spec.connection.kubeconfigSecretRef",
				ref.Namespace, ref.Name, site.Name)}
		}
		return nil, fmt.Errorf("reading kubeconfig Secret %s/%s of hosting site %s: %w", ref.Namespace, ref.Name, site.Name, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if cached, ok := s.clients[site.Name]; ok && cached.ref == ref && cached.resourceVersion == secret.ResourceVersion {
		return cached.client, nil
	}

	data, ok := secret.Data[ref.Key]
	if !ok || len(data) == 0 {
		return nil, &connectionError{fmt.Sprintf("kubeconfig Secret %s/%s of hosting site %s has no key %q: add the kubeconfig under that key or fix spec.connection.kubeconfigSecretRef.key",
			ref.Namespace, ref.Name, site.Name, ref.Key)}
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, &connectionError{fmt.Sprintf("key %q of kubeconfig Secret %s/%s of hosting site %s is not a valid kubeconfig: %v",
			ref.Key, ref.Namespace, ref.Name, site.Name, err)}
	}
	cfg.Timeout = s.timeout
	cfg.UserAgent = FieldManager
	c, err := client.New(cfg, client.Options{Scheme: s.scheme, Mapper: s.mapper})
	if err != nil {
		return nil, &connectionError{fmt.Sprintf("building a client for hosting site %s from Secret %s/%s: %v", site.Name, ref.Namespace, ref.Name, err)}
	}
	s.clients[site.Name] = cachedClient{ref: ref, resourceVersion: secret.ResourceVersion, client: c}
	return c, nil
}

// isUnreachable reports whether err means the site's API server could not
// be reached or timed out, as opposed to rejecting a request.
func isUnreachable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) {
		return true
	}
	if utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var urlErr *url.Error
	return errors.As(err, &urlErr)
}
