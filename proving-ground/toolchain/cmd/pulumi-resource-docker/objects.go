package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- Network ------------------------------------------------------------------------------

type networkArgs struct {
	Name        string            `json:"name"`
	Driver      string            `json:"driver"`
	Labels      []labelArg        `json:"labels"`
	Internal    bool              `json:"internal"`
	Attachable  bool              `json:"attachable"`
	Ipv6        bool              `json:"ipv6"`
	Options     map[string]string `json:"options"`
	IpamDriver  string            `json:"ipamDriver"`
	IpamOptions map[string]string `json:"ipamOptions"`
	IpamConfigs []struct {
		Subnet     string            `json:"subnet"`
		Gateway    string            `json:"gateway"`
		IPRange    string            `json:"ipRange"`
		AuxAddress map[string]string `json:"auxAddress"`
	} `json:"ipamConfigs"`
}

type networkInspect struct {
	ID         string            `json:"Id"`
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Scope      string            `json:"Scope"`
	Internal   bool              `json:"Internal"`
	Attachable bool              `json:"Attachable"`
	Ingress    bool              `json:"Ingress"`
	EnableIPv6 bool              `json:"EnableIPv6"`
	Options    map[string]string `json:"Options"`
	Labels     map[string]string `json:"Labels"`
	IPAM       struct {
		Driver  string            `json:"Driver"`
		Options map[string]string `json:"Options"`
		Config  []struct {
			Subnet     string            `json:"Subnet"`
			Gateway    string            `json:"Gateway"`
			IPRange    string            `json:"IPRange"`
			AuxAddress map[string]string `json:"AuxiliaryAddresses"`
		} `json:"Config"`
	} `json:"IPAM"`
}

type networkKind struct{}

func (networkKind) supported() []string {
	return []string{"name", "driver", "labels", "internal", "attachable", "ipv6", "options",
		"ipamDriver", "ipamOptions", "ipamConfigs", "checkDuplicate"}
}
func (networkKind) updateKeys() []string { return nil }
func (networkKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}

var networkSchema = &block{
	defaults: []fieldDefault{{"ipamDriver", str("default")}},
	nested:   map[string]*block{"labels": emptyBlock(), "ipamConfigs": emptyBlock()},
}

func (networkKind) setKeys() map[string]bool {
	return map[string]bool{"labels": true, "ipamConfigs": true}
}

func (networkKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	return checkNamed(networkSchema, urn, olds, news)
}

func (networkKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", withOutputs(networkSchema.outputs(news), map[string]resource.PropertyValue{"scope": computed()}), nil
	}
	var a networkArgs
	if err := decode(news, &a); err != nil {
		return "", nil, err
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	body := map[string]any{
		"Name": a.Name, "CheckDuplicate": true, "Driver": a.Driver, "Internal": a.Internal,
		"Attachable": a.Attachable, "EnableIPv6": a.Ipv6, "Options": a.Options, "Labels": labelsMap(a.Labels),
	}
	if a.IpamDriver != "" || len(a.IpamConfigs) > 0 || len(a.IpamOptions) > 0 {
		var cfgs []map[string]any
		for _, c := range a.IpamConfigs {
			cfgs = append(cfgs, map[string]any{"Subnet": c.Subnet, "Gateway": c.Gateway, "IPRange": c.IPRange,
				"AuxiliaryAddresses": c.AuxAddress})
		}
		body["IPAM"] = map[string]any{"Driver": a.IpamDriver, "Config": cfgs, "Options": a.IpamOptions}
	}
	var created struct {
		ID string `json:"Id"`
	}
	if err := e.call(ctx, http.MethodPost, "/networks/create", nil, body, &created); err != nil {
		return "", nil, err
	}
	// A swarm-scoped network is not fully described right after its create (no driver, no IPAM):
	// upstream's read waits until it is (its "all_fields" state).
	var ni networkInspect
	err = waitFor(ctx, 30*time.Second, 500*time.Millisecond, func() (bool, error) {
		ni = networkInspect{}
		if err := e.call(ctx, http.MethodGet, "/networks/"+created.ID, nil, nil, &ni); err != nil {
			return false, err
		}
		return ni.Driver != "", nil
	})
	if err != nil {
		return "", nil, err
	}
	return created.ID, networkState(news, &ni), nil
}

// networkState: what upstream's Read takes from the engine (its create reads back too).
func networkState(inputs resource.PropertyMap, ni *networkInspect) resource.PropertyMap {
	var ipam []resource.PropertyValue
	for _, c := range ni.IPAM.Config {
		aux := stringMap(c.AuxAddress)
		if aux.IsNull() {
			aux = resource.NewObjectProperty(resource.PropertyMap{})
		}
		ipam = append(ipam, resource.NewObjectProperty(resource.PropertyMap{
			"subnet": str(c.Subnet), "gateway": str(c.Gateway), "ipRange": str(c.IPRange), "auxAddress": aux,
		}))
	}
	return withOutputs(networkSchema.outputs(inputs), map[string]resource.PropertyValue{
		"name": str(ni.Name), "driver": str(ni.Driver), "internal": boolean(ni.Internal),
		"attachable": boolean(ni.Attachable), "ingress": boolean(ni.Ingress), "ipv6": boolean(ni.EnableIPv6),
		"ipamDriver": str(ni.IPAM.Driver), "ipamOptions": stringMap(ni.IPAM.Options), "scope": str(ni.Scope),
		"options": stringMap(ni.Options), "ipamConfigs": resource.NewArrayProperty(ipam),
	})
}

func (networkKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, olds, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	keep := map[string]resource.PropertyValue{}
	for _, k := range []string{"scope", "driver", "internal", "attachable", "ingress", "ipv6", "ipamOptions", "options", "ipamConfigs"} {
		keep[k] = olds[resource.PropertyKey(k)]
	}
	return withOutputs(networkSchema.outputs(news), keep), nil
}

func (networkKind) delete(ctx context.Context, p *dockerProvider, urn resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	// Containers being removed may still hold endpoints for a moment: retry a little.
	var last error
	err = waitFor(ctx, 30*time.Second, time.Second, func() (bool, error) {
		last = e.call(ctx, http.MethodDelete, "/networks/"+id, nil, nil, nil)
		if last == nil || isNotFound(last) {
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("removing network %s: %w", id, last)
	}
	return nil
}

func (networkKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var ni networkInspect
	if err := e.call(ctx, http.MethodGet, "/networks/"+id, nil, nil, &ni); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return networkState(state, &ni), nil
}

func getNetwork(ctx context.Context, p *dockerProvider, args resource.PropertyMap) (resource.PropertyMap, error) {
	var a struct {
		Name string `json:"name"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var ni networkInspect
	if err := e.call(ctx, http.MethodGet, "/networks/"+url.PathEscape(a.Name), nil, nil, &ni); err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("network %q not found", a.Name)
		}
		return nil, err
	}
	var cfgs []resource.PropertyValue
	for _, c := range ni.IPAM.Config {
		aux := resource.PropertyMap{}
		for k, v := range c.AuxAddress {
			aux[resource.PropertyKey(k)] = resource.NewStringProperty(v)
		}
		cfgs = append(cfgs, resource.NewObjectProperty(resource.PropertyMap{
			"subnet": resource.NewStringProperty(c.Subnet), "gateway": resource.NewStringProperty(c.Gateway),
			"ipRange": resource.NewStringProperty(c.IPRange), "auxAddress": resource.NewObjectProperty(aux),
		}))
	}
	opts := resource.PropertyMap{}
	for k, v := range ni.Options {
		opts[resource.PropertyKey(k)] = resource.NewStringProperty(v)
	}
	return resource.PropertyMap{
		"id":          resource.NewStringProperty(ni.ID),
		"name":        resource.NewStringProperty(ni.Name),
		"driver":      resource.NewStringProperty(ni.Driver),
		"internal":    resource.NewBoolProperty(ni.Internal),
		"scope":       resource.NewStringProperty(ni.Scope),
		"options":     resource.NewObjectProperty(opts),
		"ipamConfigs": resource.NewArrayProperty(cfgs),
	}, nil
}

// ---- Volume -------------------------------------------------------------------------------

type volumeArgs struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	DriverOpts map[string]string `json:"driverOpts"`
	Labels     []labelArg        `json:"labels"`
}

type volumeKind struct{}

func (volumeKind) supported() []string  { return []string{"name", "driver", "driverOpts", "labels"} }
func (volumeKind) updateKeys() []string { return nil }
func (volumeKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}

var volumeSchema = &block{nested: map[string]*block{"labels": emptyBlock()}}

func (volumeKind) setKeys() map[string]bool { return map[string]bool{"labels": true} }

func (volumeKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	return checkNamed(volumeSchema, urn, olds, news)
}

func (volumeKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", withOutputs(volumeSchema.outputs(news), map[string]resource.PropertyValue{"mountpoint": computed()}), nil
	}
	var a volumeArgs
	if err := decode(news, &a); err != nil {
		return "", nil, err
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	var v struct {
		Name       string `json:"Name"`
		Driver     string `json:"Driver"`
		Mountpoint string `json:"Mountpoint"`
	}
	// An existing volume of that name is adopted by the engine (as `docker volume create` does).
	body := map[string]any{"Name": a.Name, "Driver": a.Driver, "DriverOpts": a.DriverOpts, "Labels": labelsMap(a.Labels)}
	if err := e.call(ctx, http.MethodPost, "/volumes/create", nil, body, &v); err != nil {
		return "", nil, err
	}
	outs := map[string]resource.PropertyValue{"mountpoint": resource.NewStringProperty(v.Mountpoint)}
	if a.Driver == "" {
		outs["driver"] = resource.NewStringProperty(v.Driver)
	}
	return v.Name, withOutputs(volumeSchema.outputs(news), outs), nil
}

func (volumeKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, olds, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return withOutputs(volumeSchema.outputs(news), map[string]resource.PropertyValue{"mountpoint": olds["mountpoint"]}), nil
}

func (volumeKind) delete(ctx context.Context, p *dockerProvider, urn resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	var last error
	err = waitFor(ctx, 30*time.Second, time.Second, func() (bool, error) {
		last = e.call(ctx, http.MethodDelete, "/volumes/"+url.PathEscape(id), nil, nil, nil)
		if last == nil || isNotFound(last) {
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("removing volume %s: %w", id, last)
	}
	return nil
}

func (volumeKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	if err := e.call(ctx, http.MethodGet, "/volumes/"+url.PathEscape(id), nil, nil, nil); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return state, nil
}

// ---- RemoteImage --------------------------------------------------------------------------

type remoteImageArgs struct {
	Name        string   `json:"name"`
	KeepLocally bool     `json:"keepLocally"`
	ForceRemove bool     `json:"forceRemove"`
	Platform    string   `json:"platform"`
	PullTrigger []string `json:"pullTriggers"`
}

type imageInspect struct {
	ID          string   `json:"Id"`
	RepoTags    []string `json:"RepoTags"`
	RepoDigests []string `json:"RepoDigests"`
}

type remoteImageKind struct{}

func (remoteImageKind) supported() []string {
	return []string{"name", "keepLocally", "forceRemove", "platform", "pullTriggers", "triggers"}
}
func (remoteImageKind) updateKeys() []string                               { return []string{"keepLocally", "forceRemove"} }
func (remoteImageKind) deleteBeforeReplace(_, _ resource.PropertyMap) bool { return false }

func (remoteImageKind) check(_ context.Context, _ *dockerProvider, _ resource.URN, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["name"]; !ok || v.IsNull() {
		return nil, errors.New("RemoteImage: name is required")
	}
	return remoteImageSchema.applyDefaults(news), nil
}

var remoteImageSchema = &block{}

func (remoteImageKind) setKeys() map[string]bool { return map[string]bool{"pullTriggers": true} }

// pull pulls ref (with provider credentials for its registry) and inspects it.
func pull(ctx context.Context, p *dockerProvider, urn resource.URN, ref, platform string) (*imageInspect, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	registry, repo, tag, digest := splitReference(ref)
	q := url.Values{"fromImage": {repo}}
	switch {
	case digest != "":
		q.Set("tag", digest)
	case tag != "":
		q.Set("tag", tag)
	default:
		q.Set("tag", "latest")
	}
	if platform != "" {
		q.Set("platform", platform)
	}
	auth := p.authFor(registry)
	resp, err := e.do(ctx, http.MethodPost, "/images/create", q, nil, map[string]string{"X-Registry-Auth": encodeAuth(auth)})
	if err != nil {
		// upstream's pullImage keeps the request's own error
		return nil, fmt.Errorf("unable to pull image %s: error pulling image %s: %w", ref, ref, err)
	}
	// Upstream's pullImage reads the progress stream to its end without looking at it: an
	// error the engine reports there (a full disk, a layer refused) is lost, and findImage then
	// answers only that the image is not there. The same here.
	_ = readStream(resp.Body, func(s string) { p.logStatus(ctx, urn, s) }, nil)
	resp.Body.Close()
	var ii imageInspect
	if ierr := e.call(ctx, http.MethodGet, "/images/"+ref+"/json", nil, nil, &ii); ierr != nil {
		return nil, fmt.Errorf("unable to find or pull image %s", ref)
	}
	return &ii, nil
}

// findImage is upstream's (kreuzwerker's findImage): an image the engine already holds under
// that name is used as it is, only a missing one is pulled (so a build the deploy engine made
// itself, or a rollback to a build it keeps, needs no registry round trip).
func findImage(ctx context.Context, p *dockerProvider, urn resource.URN, ref, platform string) (*imageInspect, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var ii imageInspect
	if err := e.call(ctx, http.MethodGet, "/images/"+ref+"/json", nil, nil, &ii); err == nil {
		return &ii, nil
	}
	return pull(ctx, p, urn, ref, platform)
}

func repoDigestFor(ref string, digests []string) string {
	_, repo, _, digest := splitReference(ref)
	if digest != "" {
		return repo + "@" + digest
	}
	for _, d := range digests {
		if _, r, _, _ := splitReference(d); r == repo {
			return d
		}
	}
	if len(digests) > 0 {
		return digests[0]
	}
	return ""
}

func (remoteImageKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", withOutputs(remoteImageSchema.outputs(news), map[string]resource.PropertyValue{"imageId": computed(), "repoDigest": computed()}), nil
	}
	var a remoteImageArgs
	if err := decode(news, &a); err != nil {
		return "", nil, err
	}
	ii, err := findImage(ctx, p, urn, a.Name, a.Platform)
	if err != nil {
		return "", nil, fmt.Errorf("Unable to read Docker image into resource: %s", err)
	}
	return ii.ID + a.Name, withOutputs(remoteImageSchema.outputs(news), map[string]resource.PropertyValue{
		"imageId":    resource.NewStringProperty(ii.ID),
		"repoDigest": resource.NewStringProperty(repoDigestFor(a.Name, ii.RepoDigests)),
	}), nil
}

func (remoteImageKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, olds, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return withOutputs(remoteImageSchema.outputs(news), map[string]resource.PropertyValue{"imageId": olds["imageId"], "repoDigest": olds["repoDigest"]}), nil
}

func (remoteImageKind) delete(ctx context.Context, p *dockerProvider, urn resource.URN, id string, olds resource.PropertyMap) error {
	var a remoteImageArgs
	if err := decode(olds, &a); err != nil {
		return err
	}
	if a.KeepLocally {
		return nil
	}
	imageID, _ := plain(olds["imageId"]).(string)
	if imageID == "" {
		return nil
	}
	e, err := p.engine()
	if err != nil {
		return err
	}
	q := url.Values{}
	if a.ForceRemove {
		q.Set("force", "1")
	}
	if err := e.call(ctx, http.MethodDelete, "/images/"+imageID, q, nil, nil); err != nil && !isNotFound(err) {
		return fmt.Errorf("removing image %s (%s): %w", a.Name, imageID, err)
	}
	return nil
}

func (remoteImageKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	imageID, _ := plain(state["imageId"]).(string)
	if imageID == "" {
		return state, nil
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	if err := e.call(ctx, http.MethodGet, "/images/"+imageID+"/json", nil, nil, nil); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return state, nil
}
