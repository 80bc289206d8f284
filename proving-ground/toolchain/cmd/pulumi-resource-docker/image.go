package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/tonistiigi/fsutil"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

type imageArgs struct {
	ImageName string `json:"imageName"`
	Build     struct {
		Context        string            `json:"context"`
		Dockerfile     string            `json:"dockerfile"`
		Args           map[string]string `json:"args"`
		Target         string            `json:"target"`
		Platform       string            `json:"platform"`
		Network        string            `json:"network"`
		AddHosts       []string          `json:"addHosts"`
		BuilderVersion string            `json:"builderVersion"`
		ContextDigest  string            `json:"contextDigest"`
	} `json:"build"`
	Registry struct {
		Server   string `json:"server"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"registry"`
	SkipPush bool `json:"skipPush"`
}

var imageBuildKeys = map[string]bool{
	"context": true, "dockerfile": true, "args": true, "target": true, "platform": true,
	"network": true, "addHosts": true, "builderVersion": true, "contextDigest": true,
}

type imageKind struct{}

func (imageKind) supported() []string {
	return []string{"imageName", "build", "registry", "skipPush", "buildOnPreview"}
}

// Every change rebuilds in place (an update), as upstream does.
func (imageKind) updateKeys() []string {
	return []string{"imageName", "build", "registry", "skipPush", "buildOnPreview"}
}
func (imageKind) deleteBeforeReplace(_, _ resource.PropertyMap) bool { return false }

// buildContext resolves context and Dockerfile paths (relative to the program directory, which
// is the provider's working directory).
func buildContext(a *imageArgs) (ctxDir, dockerfile string, err error) {
	ctxDir = a.Build.Context
	if ctxDir == "" {
		ctxDir = "."
	}
	if ctxDir, err = filepath.Abs(ctxDir); err != nil {
		return "", "", err
	}
	dockerfile = a.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(ctxDir, "Dockerfile")
	} else if dockerfile, err = filepath.Abs(dockerfile); err != nil {
		return "", "", err
	}
	return ctxDir, dockerfile, nil
}

// contextFiles lists the files of the context that .dockerignore keeps, relative, sorted.
func contextFiles(ctxDir, dockerfileRel string) ([]string, error) {
	var patterns []string
	if f, err := os.Open(filepath.Join(ctxDir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading .dockerignore: %w", err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	var files []string
	err = filepath.WalkDir(ctxDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ctxDir, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		// The Dockerfile and .dockerignore always go, as with the docker CLI.
		always := rel == ".dockerignore" || rel == dockerfileRel
		if !always {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// digestContext is upstream's contextDigest (pulumi-docker v5.1.0, Check): a sha256, in hex, over
// one record per file, each record the file's slash path, its mode as Go prints it and the sha256
// of its content (of its resolved target path for a symlink), NUL-terminated. The first record is
// the Dockerfile under the name "Dockerfile" with mode 0, wherever it is; then every file that
// fsutil.Walk yields from the context with the ignore patterns of <Dockerfile>.dockerignore, else
// of the context's .dockerignore, in its order. Paths are as given (relative to the program
// directory, the provider's working directory), as upstream passes them. Build args, target and
// platform are not in it: a change of those is a diff of `build` itself.
func digestContext(a *imageArgs) (string, error) {
	ctxDir := a.Build.Context
	if ctxDir == "" {
		ctxDir = "."
	}
	dockerfile := a.Build.Dockerfile
	if dockerfile == "" {
		dockerfile = path.Join(ctxDir, "Dockerfile")
	}
	return contextDigest(ctxDir, dockerfile)
}

func contextDigest(ctxDir, dockerfile string) (string, error) {
	patterns, err := ignorePatterns(ctxDir, dockerfile)
	if err != nil {
		return "", err
	}
	var records bytes.Buffer
	record := func(file, name string, mode fs.FileMode) error {
		h := sha256.New()
		switch {
		case mode.Type() == fs.ModeSymlink:
			target, err := filepath.EvalSymlinks(file)
			if err != nil {
				return fmt.Errorf("could not evaluate symlink at %s: %w", file, err)
			}
			io.WriteString(h, filepath.ToSlash(filepath.Clean(target)))
		case mode.IsRegular():
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("could not open file %s: %w", file, err)
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		records.WriteString(filepath.ToSlash(path.Clean(name)))
		records.WriteString(mode.String())
		records.Write(h.Sum(nil))
		records.WriteByte(0)
		return nil
	}
	if err := record(dockerfile, "Dockerfile", 0); err != nil {
		return "", fmt.Errorf("error hashing dockerfile %q: %w", dockerfile, err)
	}
	err = fsutil.Walk(context.Background(), ctxDir, &fsutil.FilterOpt{ExcludePatterns: patterns},
		func(rel string, fi fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return nil
			}
			if err := record(filepath.Join(ctxDir, rel), rel, fi.Mode()); err != nil {
				return fmt.Errorf("error while hashing %q: %w", rel, err)
			}
			return nil
		})
	if err != nil {
		return "", fmt.Errorf("unable to hash build context: %w", err)
	}
	sum := sha256.Sum256(records.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// ignorePatterns: <Dockerfile>.dockerignore if there is one, else the context's .dockerignore.
func ignorePatterns(ctxDir, dockerfile string) ([]string, error) {
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(ctxDir, ".dockerignore")} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", p, err)
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("unable to parse %q: %w", p, err)
		}
		return patterns, nil
	}
	return nil, nil
}

func (imageKind) check(_ context.Context, _ *dockerProvider, _ resource.URN, _, news resource.PropertyMap) (resource.PropertyMap, error) {
	if v, ok := news["imageName"]; !ok || v.IsNull() {
		return nil, errors.New("Image: imageName is required")
	}
	out := news.Copy()
	build := resource.PropertyMap{}
	if b, ok := news["build"]; ok && !b.IsNull() {
		bv := b
		if bv.IsSecret() {
			bv = bv.SecretValue().Element
		}
		if bv.IsComputed() || (bv.IsOutput() && !bv.OutputValue().Known) {
			return out, nil
		}
		if bv.IsOutput() {
			bv = bv.OutputValue().Element
		}
		if !bv.IsObject() {
			return nil, errors.New("Image: build must be an object")
		}
		build = bv.ObjectValue().Copy()
	}
	for k, v := range build {
		if !v.IsNull() && !imageBuildKeys[string(k)] {
			return nil, fmt.Errorf("Image: build.%s is not supported by this build of the docker provider", k)
		}
	}
	// builderVersion is accepted; the engine API's classic builder is used either way.
	delete(build, "contextDigest")
	if resource.NewObjectProperty(build).ContainsUnknowns() {
		out["build"] = resource.NewObjectProperty(build)
		return out, nil
	}
	var a imageArgs
	if err := decode(resource.PropertyMap{"imageName": news["imageName"], "build": resource.NewObjectProperty(build)}, &a); err != nil {
		return nil, err
	}
	digest, err := digestContext(&a)
	if err != nil {
		return nil, fmt.Errorf("Image: hashing the build context: %w", err)
	}
	build["contextDigest"] = resource.NewStringProperty(digest)
	out["build"] = resource.NewObjectProperty(build)
	return out, nil
}

// writeContext streams the build context as a tar; the Dockerfile goes in under dfName.
func writeContext(w io.Writer, ctxDir, dockerfile, dfName string, files []string) error {
	tw := tar.NewWriter(w)
	for _, rel := range files {
		full := filepath.Join(ctxDir, filepath.FromSlash(rel))
		fi, err := os.Lstat(full)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(full); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(full)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	if dfName != "" {
		data, err := os.ReadFile(dockerfile)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: dfName, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func (k imageKind) buildAndPush(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap) (resource.PropertyMap, error) {
	var a imageArgs
	if err := decode(news, &a); err != nil {
		return nil, err
	}
	e, err := p.engine()
	if err != nil {
		return nil, err
	}
	ctxDir, dockerfile, err := buildContext(&a)
	if err != nil {
		return nil, err
	}
	dfRel, err := filepath.Rel(ctxDir, dockerfile)
	if err != nil {
		return nil, err
	}
	dfRel = filepath.ToSlash(dfRel)
	dfName := ""
	if strings.HasPrefix(dfRel, "../") || dfRel == ".." {
		// A Dockerfile outside the context travels inside it under a private name.
		dfName = ".pulumi-dockerfile"
		dfRel = dfName
	}
	files, err := contextFiles(ctxDir, dfRel)
	if err != nil {
		return nil, err
	}

	q := url.Values{"t": {a.ImageName}, "dockerfile": {dfRel}, "rm": {"1"}, "forcerm": {"1"}, "version": {"1"}}
	if len(a.Build.Args) > 0 {
		ba, _ := json.Marshal(a.Build.Args)
		q.Set("buildargs", string(ba))
	}
	if a.Build.Target != "" {
		q.Set("target", a.Build.Target)
	}
	if a.Build.Platform != "" {
		q.Set("platform", a.Build.Platform)
	}
	if a.Build.Network != "" {
		q.Set("networkmode", a.Build.Network)
	}
	for _, h := range a.Build.AddHosts {
		q.Add("extrahosts", h)
	}
	// Credentials for pulling base images: every registry the provider knows.
	regCfg := map[string]authConfig{}
	for _, ra := range p.auths {
		regCfg[ra.Address] = authConfig{Username: ra.Username, Password: ra.Password, ServerAddress: ra.Address}
	}
	if a.Registry.Server != "" && a.Registry.Username != "" {
		regCfg[a.Registry.Server] = authConfig{Username: a.Registry.Username, Password: a.Registry.Password, ServerAddress: a.Registry.Server}
	}
	rc, _ := json.Marshal(regCfg)

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, ctxDir, dockerfile, dfName, files)) }()
	p.logStatus(ctx, urn, fmt.Sprintf("building %s from %s (%d files)", a.ImageName, ctxDir, len(files)))
	resp, err := e.do(ctx, http.MethodPost, "/build", q, pr, map[string]string{
		"Content-Type":      "application/x-tar",
		"X-Registry-Config": base64.URLEncoding.EncodeToString(rc),
	})
	if err != nil {
		pr.CloseWithError(err)
		return nil, fmt.Errorf("building %s: %w", a.ImageName, err)
	}
	var tail []string
	err = readStream(resp.Body, func(s string) {
		p.logStatus(ctx, urn, s)
		tail = append(tail, s)
		if len(tail) > 30 {
			tail = tail[1:]
		}
	}, nil)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("building %s: %w\n%s", a.ImageName, err, strings.Join(tail, "\n"))
	}

	_, repo, tag, _ := splitReference(a.ImageName)
	if tag == "" {
		tag = "latest"
	}
	// Upstream's outputs: these, the inputs under `__inputs` (secret), and repoDigest.
	relDockerfile, _ := filepath.Rel(ctxDir, dockerfile)
	outs := map[string]resource.PropertyValue{
		"baseImageName":  resource.NewStringProperty(a.ImageName),
		"imageName":      resource.NewStringProperty(a.ImageName),
		"context":        resource.NewStringProperty(a.Build.Context),
		"dockerfile":     resource.NewStringProperty(filepath.ToSlash(relDockerfile)),
		"registryServer": resource.NewStringProperty(a.Registry.Server),
		"platform":       resource.NewStringProperty(a.Build.Platform),
	}
	registry, _, _, _ := splitReference(a.ImageName)
	if !a.SkipPush {
		auth := p.authFor(registry)
		if a.Registry.Username != "" {
			auth = &authConfig{Username: a.Registry.Username, Password: a.Registry.Password, ServerAddress: a.Registry.Server}
		}
		p.logStatus(ctx, urn, fmt.Sprintf("pushing %s:%s", repo, tag))
		resp, err := e.do(ctx, http.MethodPost, "/images/"+repo+"/push", url.Values{"tag": {tag}}, nil,
			map[string]string{"X-Registry-Auth": encodeAuth(auth)})
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", a.ImageName, err)
		}
		var digest string
		err = readStream(resp.Body, func(s string) { p.logStatus(ctx, urn, s) }, func(raw json.RawMessage) {
			var aux struct{ Digest string }
			if json.Unmarshal(raw, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
		})
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("pushing %s: %w", a.ImageName, err)
		}
		if digest == "" {
			return nil, fmt.Errorf("pushing %s: the registry reported no digest", a.ImageName)
		}
		outs["repoDigest"] = resource.NewStringProperty(repo + "@" + digest)
	} else {
		var ii imageInspect
		if err := e.call(ctx, http.MethodGet, "/images/"+a.ImageName+"/json", nil, nil, &ii); err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", a.ImageName, err)
		}
		outs["repoDigest"] = resource.NewStringProperty(ii.ID) // upstream's choice without a push
	}
	state := resource.PropertyMap{"__inputs": resource.MakeSecret(resource.NewObjectProperty(news))}
	for k, v := range outs {
		state[resource.PropertyKey(k)] = v
	}
	return state, nil
}

func imagePreview(news resource.PropertyMap) resource.PropertyMap {
	outs := map[string]resource.PropertyValue{}
	for _, k := range []string{"baseImageName", "context", "dockerfile", "registryServer", "repoDigest", "platform"} {
		outs[k] = computed()
	}
	return withOutputs(news, outs)
}

func (k imageKind) create(ctx context.Context, p *dockerProvider, urn resource.URN, news resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	name, _ := plain(news["imageName"]).(string)
	if preview {
		return "", imagePreview(news), nil
	}
	outs, err := k.buildAndPush(ctx, p, urn, news)
	if err != nil {
		return "", nil, err
	}
	return name, outs, nil
}

func (k imageKind) update(ctx context.Context, p *dockerProvider, urn resource.URN, _ string, _, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	if preview {
		return imagePreview(news), nil
	}
	return k.buildAndPush(ctx, p, urn, news)
}

// Deleting an Image leaves the pushed image and the local one alone.
func (imageKind) delete(context.Context, *dockerProvider, resource.URN, string, resource.PropertyMap) error {
	return nil
}

func (imageKind) read(_ context.Context, _ *dockerProvider, _ string, state resource.PropertyMap) (resource.PropertyMap, error) {
	return state, nil
}
