package provisioning

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
)

func ref(kind, ns, name, site string) estatev1.ProvisionedObject {
	return estatev1.ProvisionedObject{Kind: kind, Namespace: ns, Name: name, Site: site}
}

func namespaceObject(name string) client.Object {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func serviceObject(ns, name string) client.Object {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestRecordSetAfterMove(t *testing.T) {
	previous := &estatev1.Provisioning{
		Site: "a",
		Objects: []estatev1.ProvisionedObject{
			ref("Namespace", "", "border", "a"),
			ref("Service", "border", "web", "a"),
		},
		LeftBehind: []estatev1.ProvisionedObject{ref("Service", "border", "web", "old")},
	}
	records := newRecordSet(previous)
	desired := []client.Object{namespaceObject("border"), serviceObject("border", "web")}
	// Site b accepted the namespace but rejected the service.
	records.keepDesired("b", desired, map[estatev1.ProvisionedObject]bool{ref("Namespace", "", "border", "b"): true})

	objects, leftBehind := records.lists()
	wantObjects := []estatev1.ProvisionedObject{
		ref("Namespace", "", "border", "b"),
		ref("Namespace", "", "border", "a"),
		ref("Service", "border", "web", "a"),
	}
	if diff := cmp.Diff(wantObjects, objects); diff != "" {
		t.Errorf("objects differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(previous.LeftBehind, leftBehind); diff != "" {
		t.Errorf("left behind differs (-want +got):\n%s", diff)
	}

	sites, bySite := records.stale()
	if diff := cmp.Diff([]string{"a", "old"}, sites); diff != "" {
		t.Errorf("stale sites differ (-want +got):\n%s", diff)
	}
	if got := len(bySite["a"]); got != 2 {
		t.Errorf("stale objects on a = %d, want 2", got)
	}

	records.apply(removal{
		site:      "a",
		removed:   []estatev1.ProvisionedObject{ref("Service", "border", "web", "a")},
		remaining: []estatev1.ProvisionedObject{ref("Namespace", "", "border", "a")},
		err:       errors.New("connection refused"),
	})
	objects, leftBehind = records.lists()
	if diff := cmp.Diff([]estatev1.ProvisionedObject{ref("Namespace", "", "border", "b")}, objects); diff != "" {
		t.Errorf("objects after removal differ (-want +got):\n%s", diff)
	}
	wantLeft := []estatev1.ProvisionedObject{ref("Namespace", "", "border", "a"), ref("Service", "border", "web", "old")}
	if diff := cmp.Diff(wantLeft, leftBehind); diff != "" {
		t.Errorf("left behind after removal differs (-want +got):\n%s", diff)
	}
}

func TestRecordSetDesiredAgainLeavesLeftBehind(t *testing.T) {
	records := newRecordSet(&estatev1.Provisioning{LeftBehind: []estatev1.ProvisionedObject{ref("Service", "border", "web", "a")}})
	records.keepDesired("a", []client.Object{serviceObject("border", "web")}, nil)
	objects, leftBehind := records.lists()
	if diff := cmp.Diff([]estatev1.ProvisionedObject{ref("Service", "border", "web", "a")}, objects); diff != "" {
		t.Errorf("objects differ (-want +got):\n%s", diff)
	}
	if leftBehind != nil {
		t.Errorf("left behind = %+v, want none once the object is desired on its site again", leftBehind)
	}
}

func TestSplitSharedOrdersDeletion(t *testing.T) {
	refs := []estatev1.ProvisionedObject{
		ref("Namespace", "", "border", "a"),
		ref("LimitRange", "border", "estate", "a"),
		ref("ResourceQuota", "border", "estate", "a"),
		ref("NetworkPolicy", "border", "deny", "a"),
		ref("Service", "border", "web", "a"),
		ref("Deployment", "border", "web-api", "a"),
	}
	owned, shared := splitShared(refs)
	var order []string
	for _, r := range owned {
		order = append(order, r.Kind)
	}
	if diff := cmp.Diff([]string{"Deployment", "Service", "NetworkPolicy"}, order); diff != "" {
		t.Errorf("owned deletion order differs (-want +got):\n%s", diff)
	}
	order = nil
	for _, group := range byNamespace(shared) {
		for _, r := range group {
			order = append(order, r.Kind)
		}
	}
	if diff := cmp.Diff([]string{"LimitRange", "ResourceQuota", "Namespace"}, order); diff != "" {
		t.Errorf("shared deletion order differs (-want +got):\n%s", diff)
	}
}

func TestRetryDelay(t *testing.T) {
	tests := map[string]struct {
		elapsed, left, want time.Duration
	}{
		"right after deletion waits the minimum": {elapsed: 0, left: time.Minute, want: time.Second},
		"later waits as long as already spent":   {elapsed: 8 * time.Second, left: time.Minute, want: 8 * time.Second},
		"long waits are capped":                  {elapsed: 90 * time.Second, left: time.Minute, want: 30 * time.Second},
		"never past the deadline":                {elapsed: 8 * time.Second, left: 2 * time.Second, want: 2 * time.Second},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := retryDelay(tt.elapsed, tt.left); got != tt.want {
				t.Errorf("retryDelay(%s, %s) = %s, want %s", tt.elapsed, tt.left, got, tt.want)
			}
		})
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 10) // 20 bytes
	got := truncate(s, 10)
	if len(got) > 10 {
		t.Errorf("truncate returned %d bytes, want at most 10", len(got))
	}
	if !strings.HasSuffix(got, "...") {
		t.Errorf("truncate(%q) = %q, want a trailing ...", s, got)
	}
	if !utf8.ValidString(got) {
		t.Errorf("truncate(%q) = %q cut a character in half", s, got)
	}
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate(short) = %q, want it unchanged", got)
	}
}

func TestLimitCountsTheRest(t *testing.T) {
	got := joinLimited([]string{"a", "b", "c", "d"}, 2)
	if got != "a, b, and 2 more" {
		t.Errorf("joinLimited = %q, want %q", got, "a, b, and 2 more")
	}
}

func TestKeptObjectsMessageNamesSites(t *testing.T) {
	p := &estatev1.Provisioning{
		Site: "b",
		Objects: []estatev1.ProvisionedObject{
			ref("Namespace", "", "border", "a"),
			ref("Service", "border", "web", "a"),
			ref("Namespace", "", "border", "c"),
		},
	}
	got := withKeptObjects("Planned.", p)
	want := "Planned. The 3 objects on hosting sites a, c stay until a site accepts the workload."
	if got != want {
		t.Errorf("withKeptObjects = %q, want %q", got, want)
	}
	if got := withKeptObjects("Planned.", &estatev1.Provisioning{}); got != "Planned." {
		t.Errorf("withKeptObjects with no objects = %q, want the message unchanged", got)
	}
}
