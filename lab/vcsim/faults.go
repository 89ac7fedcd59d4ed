package main

// The fault-injection hook: an HTTP front for the simulator that the tests drive.
//
//	POST   /_vcsim/faults            add a rule (JSON, see faultRule)
//	GET    /_vcsim/faults            list the rules still armed
//	DELETE /_vcsim/faults            remove every rule
//	GET    /_vcsim/calls             SOAP calls seen per method (JSON object)
//	DELETE /_vcsim/calls             reset those counters
//	POST   /_vcsim/sessions/terminate  end every open session (clients get NotAuthenticated)
//
// A rule matches SOAP calls by method name (e.g. "CloneVM_Task"); it may delay the call, end
// all sessions first, and/or answer with a SOAP fault of any vim25 type instead of forwarding
// the call. "times" bounds how often it fires (0 = until removed). With "task_error" a *_Task
// method is answered normally with a new task that then ends in the "error" state carrying the
// fault (as vCenter reports most failures), instead of a SOAP fault.
//
// Fidelity: before forwarding PowerOnVM_Task, the VM's guest NIC report (guest.net[].network)
// is brought in line with its NICs' backings, as VMware Tools would report after boot (the
// simulator keeps the network a NIC was created with, even after a ReconfigVM_Task edit).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

type faultRule struct {
	Method            string `json:"method"`
	Fault             string `json:"fault,omitempty"`
	Message           string `json:"message,omitempty"`
	DelayMs           int    `json:"delay_ms,omitempty"`
	Times             int    `json:"times,omitempty"`
	TerminateSessions bool   `json:"terminate_sessions,omitempty"`
	TaskError         bool   `json:"task_error,omitempty"`
	Fired             int    `json:"fired"`
}

type faultHook struct {
	mu      sync.Mutex
	rules   []*faultRule
	calls   map[string]int
	proxy   *httputil.ReverseProxy
	backend *url.URL
	user    string
	pass    string
}

func newFaultHook(backend *url.URL, user, pass string) *faultHook {
	target := &url.URL{Scheme: backend.Scheme, Host: backend.Host}
	return &faultHook{
		calls:   map[string]int{},
		proxy:   httputil.NewSingleHostReverseProxy(target),
		backend: backend,
		user:    user,
		pass:    pass,
	}
}

var soapMethod = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?Body[^>]*>\s*<(?:[A-Za-z0-9_]+:)?([A-Za-z0-9_]+)`)

var soapThis = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?_this[^>]*>([^<]+)<`)

// syncGuestNetworks reports each guest NIC on the network its device is backed by now.
func syncGuestNetworks(value string) {
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: value}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	simulator.Map.WithLock(vm, func() {
		var cards []*types.VirtualEthernetCard
		for _, device := range vm.Config.Hardware.Device {
			if card, ok := device.(types.BaseVirtualEthernetCard); ok {
				cards = append(cards, card.GetVirtualEthernetCard())
			}
		}
		nets := append([]types.GuestNicInfo(nil), vm.Guest.Net...)
		changed := false
		for i := range nets {
			var card *types.VirtualEthernetCard
			for _, c := range cards {
				if c.Key == nets[i].DeviceConfigId {
					card = c
				}
			}
			if card == nil && i < len(cards) {
				card = cards[i]
			}
			if card == nil {
				continue
			}
			if b, ok := card.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok && b.DeviceName != nets[i].Network {
				nets[i].Network = b.DeviceName
				changed = true
			}
		}
		if changed {
			simulator.Map.Update(vm, []types.PropertyChange{{Name: "guest.net", Val: nets}})
		}
	})
}

func (h *faultHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_vcsim/faults":
		h.serveFaults(w, r)
		return
	case "/_vcsim/calls":
		h.serveCalls(w, r)
		return
	case "/_vcsim/sessions/terminate":
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		n, err := h.terminateSessions(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		writeJSON(w, map[string]int{"terminated": n})
		return
	}
	if r.Method != http.MethodPost {
		h.proxy.ServeHTTP(w, r)
		return
	}
	body, err := ioutil.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	method := ""
	if m := soapMethod.FindSubmatch(body); m != nil {
		method = string(m[1])
	}
	rule := h.match(method)
	if rule != nil {
		if rule.DelayMs > 0 {
			time.Sleep(time.Duration(rule.DelayMs) * time.Millisecond)
		}
		if rule.TerminateSessions {
			if _, err := h.terminateSessions(context.Background()); err != nil {
				log.Printf("vcsim hook: terminate sessions: %v", err)
			}
		}
		if rule.Fault != "" && rule.TaskError {
			log.Printf("vcsim hook: %s answered with a task failing with %s", method, rule.Fault)
			writeFailedTask(w, method, body, rule.Fault, rule.Message)
			return
		}
		if rule.Fault != "" {
			log.Printf("vcsim hook: %s answered with %s", method, rule.Fault)
			writeFault(w, rule.Fault, rule.Message)
			return
		}
	}
	if method == "PowerOnVM_Task" {
		if m := soapThis.FindSubmatch(body); m != nil {
			syncGuestNetworks(string(m[1]))
		}
	}
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	h.proxy.ServeHTTP(w, r)
}

// match counts the call and returns the first armed rule for method (consuming one firing).
func (h *faultHook) match(method string) *faultRule {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls[method]++
	for i, rule := range h.rules {
		if rule.Method != method {
			continue
		}
		rule.Fired++
		fired := *rule
		if rule.Times > 0 && rule.Fired >= rule.Times {
			h.rules = append(h.rules[:i], h.rules[i+1:]...)
		}
		return &fired
	}
	return nil
}

func (h *faultHook) serveFaults(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		var rule faultRule
		if err := json.NewDecoder(r.Body).Decode(&rule); err != nil || rule.Method == "" {
			http.Error(w, "a rule needs at least a method", http.StatusBadRequest)
			return
		}
		if rule.Fault != "" {
			if _, err := newFault(rule.Fault, ""); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		rule.Fired = 0
		h.rules = append(h.rules, &rule)
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, rule)
	case http.MethodDelete:
		h.rules = nil
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		rules := h.rules
		if rules == nil {
			rules = []*faultRule{}
		}
		writeJSON(w, rules)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (h *faultHook) serveCalls(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, h.calls)
	case http.MethodDelete:
		h.calls = map[string]int{}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// terminateSessions logs in to the simulator, ends every other session, and logs out.
func (h *faultHook) terminateSessions(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := *h.backend
	soapClient := soap.NewClient(&u, true)
	client, err := vim25.NewClient(ctx, soapClient)
	if err != nil {
		return 0, err
	}
	manager := session.NewManager(client)
	if err := manager.Login(ctx, url.UserPassword(h.user, h.pass)); err != nil {
		return 0, err
	}
	defer func() { _ = manager.Logout(context.Background()) }()
	own, err := manager.UserSession(ctx)
	if err != nil {
		return 0, err
	}
	var sm mo.SessionManager
	pc := property.DefaultCollector(client)
	if err := pc.RetrieveOne(ctx, *client.ServiceContent.SessionManager, []string{"sessionList"}, &sm); err != nil {
		return 0, err
	}
	var ids []string
	for _, s := range sm.SessionList {
		if own == nil || s.Key != own.Key {
			ids = append(ids, s.Key)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if err := manager.TerminateSession(ctx, ids); err != nil {
		return 0, err
	}
	log.Printf("vcsim hook: terminated %d sessions", len(ids))
	return len(ids), nil
}

// newFault builds a vim25 fault by type name, filling the fields clients require.
func newFault(name, message string) (types.BaseMethodFault, error) {
	kind, ok := types.TypeFunc()(name)
	if !ok {
		return nil, fmt.Errorf("unknown fault type %q", name)
	}
	fault, ok := reflect.New(kind).Interface().(types.BaseMethodFault)
	if !ok {
		return nil, fmt.Errorf("%q is not a fault type", name)
	}
	switch f := fault.(type) {
	case *types.NotAuthenticated:
		f.PrivilegeId = "System.View"
		f.Object = types.ManagedObjectReference{Type: "Folder", Value: "group-d1"}
	case *types.NoPermission:
		f.PrivilegeId = "VirtualMachine.Provisioning.Clone"
		f.Object = types.ManagedObjectReference{Type: "Folder", Value: "group-d1"}
	case *types.DuplicateName:
		f.Name = message
		f.Object = types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-0"}
	case *types.InvalidPowerState:
		f.ExistingState = types.VirtualMachinePowerStatePoweredOn
	}
	return fault, nil
}

type faultDetail struct{ Fault types.BaseMethodFault }

func (d *faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.Fault).Elem().Name()
	start.Name.Local = kind + "Fault"
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: "urn:" + vim25.Namespace},
		xml.Attr{Name: xml.Name{Local: "xsi:type"}, Value: kind})
	return e.EncodeElement(d.Fault, start)
}

type faultEnvelope struct {
	XMLName xml.Name `xml:"soapenv:Envelope"`
	Enc     string   `xml:"xmlns:soapenc,attr"`
	Env     string   `xml:"xmlns:soapenv,attr"`
	XSD     string   `xml:"xmlns:xsd,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
	Body    struct {
		Fault struct {
			XMLName xml.Name `xml:"soapenv:Fault"`
			Code    string   `xml:"faultcode"`
			String  string   `xml:"faultstring"`
			Detail  struct {
				Fault *faultDetail
			} `xml:"detail"`
		}
	} `xml:"soapenv:Body"`
}

func writeFault(w http.ResponseWriter, name, message string) {
	fault, err := newFault(name, message)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	env := faultEnvelope{
		Enc: "http://schemas.xmlsoap.org/soap/encoding/",
		Env: "http://schemas.xmlsoap.org/soap/envelope/",
		XSD: "http://www.w3.org/2001/XMLSchema",
		XSI: "http://www.w3.org/2001/XMLSchema-instance",
	}
	env.Body.Fault.Code = "ServerFaultCode"
	env.Body.Fault.String = message
	if message == "" {
		env.Body.Fault.String = name
	}
	env.Body.Fault.Detail.Fault = &faultDetail{fault}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	if err := xml.NewEncoder(&out).Encode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(out.Bytes())
}

var soapThisRef = regexp.MustCompile(`<(?:[A-Za-z0-9_]+:)?_this[^>]*type="([A-Za-z]+)"[^>]*>([^<]+)<`)

// writeFailedTask answers a *_Task call with a task (on the call's _this) that ended in error.
func writeFailedTask(w http.ResponseWriter, method string, body []byte, name, message string) {
	fault, err := newFault(name, message)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	m := soapThisRef.FindSubmatch(body)
	if m == nil || !strings.HasSuffix(method, "_Task") {
		writeFault(w, name, message)
		return
	}
	if message == "" {
		message = name
	}
	entity := types.ManagedObjectReference{Type: string(m[1]), Value: string(m[2])}
	task := simulator.CreateTask(entity, strings.TrimSuffix(method, "_Task")+"Task", nil)
	now := time.Now()
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.startTime", Val: now},
		{Name: "info.state", Val: types.TaskInfoStateRunning},
	})
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.completeTime", Val: now},
		{Name: "info.state", Val: types.TaskInfoStateError},
		{Name: "info.error", Val: types.LocalizedMethodFault{Fault: fault, LocalizedMessage: message}},
	})
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" `+
		`xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
		`<soapenv:Body><%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>`+
		`</soapenv:Body></soapenv:Envelope>`, xml.Header, method, task.Self.Value, method)
}

func writeJSON(w http.ResponseWriter, value interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(value)
}
