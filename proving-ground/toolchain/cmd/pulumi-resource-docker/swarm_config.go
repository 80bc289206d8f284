package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ---- ServiceConfig ------------------------------------------------------------------------

type serviceConfigKind struct{}

func (serviceConfigKind) supported() []string  { return []string{"name", "data", "dataRaw", "labels"} }
func (serviceConfigKind) updateKeys() []string { return nil } // no Update upstream: every change replaces
func (serviceConfigKind) deleteBeforeReplace(olds, news resource.PropertyMap) bool {
	return sameName(olds, news)
}
func (serviceConfigKind) setKeys() map[string]bool { return map[string]bool{"labels": true} }

var serviceConfigSchema = &block{}

var serviceConfigShape = &tfShape{ // schema version 0: no `__meta`
	zero:  map[string]resource.PropertyValue{"dataRaw": null(), "labels": emptyList()},
	delta: &deltaSpec{lists: map[string]*deltaSpec{"labels": objectElem}},
}

func (serviceConfigKind) shape() *tfShape { return serviceConfigShape }

func (serviceConfigKind) check(_ context.Context, _ *dockerProvider, urn resource.URN, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	if d, ok := plain(news["data"]).(string); ok {
		if _, err := base64.StdEncoding.DecodeString(d); err != nil {
			return nil, fmt.Errorf("data: %q is not base64-encoded", d)
		}
	}
	return checkNamed(serviceConfigSchema, urn, olds, news)
}

func (serviceConfigKind) create(ctx context.Context, p *dockerProvider, _ resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", serviceConfigSchema.outputs(news), nil
	}
	name, _ := plain(news["name"]).(string)
	data, err := base64.StdEncoding.DecodeString(fmt.Sprint(plain(news["data"])))
	if err != nil {
		return "", nil, fmt.Errorf("failed to decode config data: %w", err)
	}
	e, err := p.engine()
	if err != nil {
		return "", nil, err
	}
	var created struct {
		ID string `json:"ID"`
	}
	if err := e.call(ctx, http.MethodPost, "/configs/create", nil, map[string]any{"Name": name, "Data": data}, &created); err != nil {
		return "", nil, err
	}
	return created.ID, serviceConfigSchema.outputs(news), nil
}

func (serviceConfigKind) update(_ context.Context, _ *dockerProvider, _ resource.URN, _ string, _, news resource.PropertyMap, _ bool) (resource.PropertyMap, error) {
	return serviceConfigSchema.outputs(news), nil
}

func (serviceConfigKind) delete(ctx context.Context, p *dockerProvider, _ resource.URN, id string, _ resource.PropertyMap) error {
	e, err := p.engine()
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodDelete, "/configs/"+url.PathEscape(id), nil, nil, nil) // raw, as upstream
}

// read: as upstream, any inspect error drops it from the state; name and data come from the engine.
func (serviceConfigKind) read(ctx context.Context, p *dockerProvider, id string, state resource.PropertyMap) (resource.PropertyMap, error) {
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	var c struct {
		Spec struct {
			Name string `json:"Name"`
			Data []byte `json:"Data"`
		} `json:"Spec"`
	}
	if err := e.call(ctx, http.MethodGet, "/configs/"+url.PathEscape(id), nil, nil, &c); err != nil {
		return nil, nil
	}
	out := state.Copy()
	out["name"] = str(c.Spec.Name)
	out["data"] = str(base64.StdEncoding.EncodeToString(c.Spec.Data))
	return out, nil
}
