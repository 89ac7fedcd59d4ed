// Command vcsim runs govmomi's vSphere API simulator for the vmscale lab.
//
// It builds an inventory from a JSON topology (datacenters, clusters, hosts, resource pools,
// nested VM folders, networks, datastores, VMs with guest IPs, templates), serves it on a
// loopback address, and puts a small fault-injection hook in front of the SOAP endpoint (see
// faults.go), over plain HTTP or, with -tls-cert/-tls-key, HTTPS. Credentials come from the
// environment (VCSIM_USERNAME / VCSIM_PASSWORD), never from the command line.
//
// Built offline from Debian's golang-go and golang-github-vmware-govmomi-dev in GOPATH mode
// (scripts/setup.d/20-vcsim.sh).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18989", "loopback address to serve on (port 0 = any)")
	topologyPath := flag.String("topology", "", "topology JSON file (empty = a small default)")
	dataDir := flag.String("data", "", "directory for the datastores' files (default: a temp dir)")
	readyFile := flag.String("ready-file", "", "write the served URL (without credentials) here once ready")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file")
	tlsKey := flag.String("tls-key", "", "the PEM private key of -tls-cert")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !strings.HasPrefix(host, "127.") {
		log.Fatalf("vcsim: -listen must be a 127.0.0.0/8 address, got %q", *listen)
	}

	topo := defaultTopology()
	if *topologyPath != "" {
		raw, err := ioutil.ReadFile(*topologyPath)
		if err != nil {
			log.Fatalf("vcsim: read topology: %v", err)
		}
		topo = Topology{}
		if err := json.Unmarshal(raw, &topo); err != nil {
			log.Fatalf("vcsim: parse topology: %v", err)
		}
	}
	if *dataDir == "" {
		dir, err := ioutil.TempDir("", "vmscale-vcsim-")
		if err != nil {
			log.Fatalf("vcsim: temp dir: %v", err)
		}
		defer os.RemoveAll(dir)
		*dataDir = dir
	}

	user := envOr("VCSIM_USERNAME", "vmscale")
	pass := envOr("VCSIM_PASSWORD", "vmscale-lab")

	model := simulator.VPX()
	model.Datacenter = 0
	model.Cluster = 0
	model.Host = 0
	model.ClusterHost = 0
	model.Machine = 0
	model.Datastore = 0
	model.Portgroup = 0
	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: create model: %v", err)
	}
	defer model.Remove()

	ctx := context.Background()
	client, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		log.Fatalf("vcsim: in-process client: %v", err)
	}
	started := time.Now()
	counts, err := build(ctx, client, topo, *dataDir)
	if err != nil {
		log.Fatalf("vcsim: build topology: %v", err)
	}
	log.Printf("vcsim: built %d datacenters, %d hosts, %d VMs, %d templates in %s",
		counts.datacenters, counts.hosts, counts.vms, counts.templates, time.Since(started).Round(time.Millisecond))

	// The simulator itself listens on a private loopback port; the hook fronts it.
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(user, pass)}
	server := model.Service.NewServer()
	defer server.Close()

	backend := *server.URL
	backend.User = nil
	hook := newFaultHook(&backend, user, pass)

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("vcsim: listen: %v", err)
	}
	front := &http.Server{Handler: hook}
	scheme := "http"
	if *tlsCert != "" || *tlsKey != "" {
		scheme = "https"
	}
	go func() {
		var err error
		if scheme == "https" {
			err = front.ServeTLS(listener, *tlsCert, *tlsKey)
		} else {
			err = front.Serve(listener)
		}
		if err != nil && err != http.ErrServerClosed {
			log.Fatalf("vcsim: serve: %v", err)
		}
	}()

	public := fmt.Sprintf("%s://%s/sdk", scheme, listener.Addr().String())
	log.Printf("vcsim: serving %s", public)
	if *readyFile != "" {
		tmp := *readyFile + ".tmp"
		if err := ioutil.WriteFile(tmp, []byte(public+"\n"), 0o600); err == nil {
			_ = os.Rename(tmp, *readyFile)
		}
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	shutdown, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = front.Shutdown(shutdown)
	log.Printf("vcsim: stopped")
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
