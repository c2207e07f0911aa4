/// Headless Chromium driven over the Chrome DevTools Protocol (a websocket on the loopback interface) and cut off
/// from the network: pages may read local files and nothing else, so a page that needs a CDN fails. Opens pages in
/// tabs of their own, reports what went wrong while they loaded (uncaught script errors, console errors, failed
/// loads, attempts to reach the network), evaluates script in them, and takes full-page screenshots.
module Research.Experiments.Browser

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Net.WebSockets
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open System.Threading

/// How long one protocol command, a page load or Chromium's start may take before it is an error.
let private timeout = TimeSpan.FromSeconds 60.0

/// A running headless Chromium and its DevTools connection. Dispose ends the process and deletes its profile.
type Chromium private (proc: Process, socket: ClientWebSocket, profile: DirectoryInfo, log: StringBuilder) =
    let gate = obj ()
    let pending = Dictionary<int, Tasks.TaskCompletionSource<JsonElement>>()
    // every event received, in order: (session id, method, params)
    let events = List<string * string * JsonElement>()
    let mutable nextId = 0
    let mutable closed: string option = None

    let receive () =
        task {
            let buffer = Array.zeroCreate<byte>(1 <<< 20)
            use message = new MemoryStream()

            try
                while socket.State = WebSocketState.Open do
                    let! r = socket.ReceiveAsync(ArraySegment buffer, CancellationToken.None)

                    if r.MessageType = WebSocketMessageType.Close then
                        lock gate (fun () -> closed <- Some "chromium closed the DevTools connection")
                    else
                        message.Write(buffer, 0, r.Count)

                        if r.EndOfMessage then
                            let root = JsonDocument.Parse(message.ToArray()).RootElement.Clone()
                            message.SetLength 0L

                            let sessionOf () =
                                match root.TryGetProperty "sessionId" with
                                | true, s -> s.GetString()
                                | _ -> ""

                            match root.TryGetProperty "id" with
                            | true, id ->
                                let waiter =
                                    lock gate (fun () ->
                                        match pending.TryGetValue(id.GetInt32()) with
                                        | true, w ->
                                            pending.Remove(id.GetInt32()) |> ignore
                                            Some w
                                        | _ -> None)

                                waiter
                                |> Option.iter (fun (w: Tasks.TaskCompletionSource<JsonElement>) -> w.SetResult root)
                            | _ ->
                                let parameters =
                                    match root.TryGetProperty "params" with
                                    | true, p -> p
                                    | _ -> JsonElement()

                                lock gate (fun () -> events.Add((sessionOf (), root.GetProperty("method").GetString(), parameters)))
            with e ->
                lock gate (fun () -> closed <- Some $"the DevTools connection failed: {e.Message}")

            // whoever still waits for an answer gets the reason instead of a timeout
            let waiters =
                lock gate (fun () ->
                    let w = List.ofSeq pending.Values
                    pending.Clear()
                    w)

            for w in waiters do
                w.SetException(InvalidOperationException(defaultArg closed "the DevTools connection ended"))
        }

    let reader = receive ()

    /// Starts headless Chromium (`exe`) with a fresh profile, no network and a DevTools port on the loopback
    /// interface, and connects to it.
    static member Launch(exe: string) =
        let profile = Directory.CreateTempSubdirectory "research-chromium-"
        let log = StringBuilder()

        let info =
            ProcessStartInfo(exe, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)

        for a in
            [
                "--headless"
                "--no-sandbox"
                "--disable-gpu"
                "--disable-dev-shm-usage"
                "--hide-scrollbars"
                "--no-first-run"
                "--no-default-browser-check"
                "--disable-background-networking"
                "--disable-component-update"
                "--disable-sync"
                "--disable-extensions"
                // no network: no host name resolves and every connection goes to a closed local port
                "--host-resolver-rules=MAP * ~NOTFOUND"
                "--proxy-server=127.0.0.1:9"
                "--remote-debugging-address=127.0.0.1"
                "--remote-debugging-port=0"
                $"--user-data-dir={profile.FullName}"
                "about:blank"
            ] do
            info.ArgumentList.Add a

        let proc = Process.Start info

        let append (e: DataReceivedEventArgs) =
            if not (isNull e.Data) then
                lock log (fun () -> log.AppendLine e.Data |> ignore)

        proc.OutputDataReceived.Add append
        proc.ErrorDataReceived.Add append
        proc.BeginOutputReadLine()
        proc.BeginErrorReadLine()

        let fail (why: string) =
            try
                proc.Kill true
            with _ ->
                ()

            try
                profile.Delete true
            with _ ->
                ()

            failwithf "chromium (%s) %s; its output:\n%s" exe why (lock log (fun () -> log.ToString()))

        // Chromium writes the port it chose and the browser's websocket path to DevToolsActivePort.
        let portFile = Path.Combine(profile.FullName, "DevToolsActivePort")
        let clock = Stopwatch.StartNew()

        let rec endpoint () =
            let lines =
                try
                    if File.Exists portFile then
                        File.ReadAllLines portFile
                    else
                        [||]
                with :? IOException ->
                    [||]

            if lines.Length >= 2 then
                $"ws://127.0.0.1:{lines[0].Trim()}{lines[1].Trim()}"
            elif proc.HasExited then
                fail $"exited with code {proc.ExitCode} before opening its DevTools port"
            elif clock.Elapsed > timeout then
                fail $"opened no DevTools port within {timeout.TotalSeconds} s"
            else
                Thread.Sleep 50
                endpoint ()

        let url = endpoint ()
        let socket = new ClientWebSocket()

        try
            socket.ConnectAsync(Uri url, CancellationToken.None).Wait timeout |> ignore
        with e ->
            fail $"refused the DevTools connection at {url}: {e.Message}"

        if socket.State <> WebSocketState.Open then
            fail $"did not accept the DevTools connection at {url} within {timeout.TotalSeconds} s"

        new Chromium(proc, socket, profile, log)

    /// Sends one protocol command (to a tab's session when `session` is not empty) and returns its result; a
    /// protocol error or no answer within a minute is an exception naming the command.
    member _.Send(session: string, method: string, parameters: JsonObject) : JsonElement =
        let waiter =
            Tasks.TaskCompletionSource<JsonElement>(Tasks.TaskCreationOptions.RunContinuationsAsynchronously)

        let id =
            lock gate (fun () ->
                match closed with
                | Some why -> invalidOp $"{method}: {why}"
                | None ->
                    nextId <- nextId + 1
                    pending[nextId] <- waiter
                    nextId)

        let command = JsonObject()
        command["id"] <- JsonValue.Create id
        command["method"] <- JsonValue.Create method
        command["params"] <- parameters

        if session <> "" then
            command["sessionId"] <- JsonValue.Create session

        let bytes = Encoding.UTF8.GetBytes(command.ToJsonString())

        lock socket (fun () -> socket.SendAsync(ArraySegment bytes, WebSocketMessageType.Text, true, CancellationToken.None).Wait())

        if not (waiter.Task.Wait timeout) then
            failwithf "chromium: no answer to %s within %.0f s" method timeout.TotalSeconds

        let answer = waiter.Task.Result

        match answer.TryGetProperty "error" with
        | true, e -> failwithf "chromium: %s failed: %s" method (e.GetRawText())
        | _ -> answer.GetProperty "result"

    /// Every event of a session received so far: (method, params), in order.
    member _.Events(session: string) =
        lock gate (fun () ->
            [
                for s, m, p in events do
                    if s = session then
                        m, p
            ])

    /// Chromium's own output so far (stdout and stderr).
    member _.Output = lock log (fun () -> log.ToString())

    interface IDisposable with
        member _.Dispose() =
            try
                if socket.State = WebSocketState.Open then
                    socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).Wait 2000
                    |> ignore
            with _ ->
                ()

            try
                if not proc.HasExited then
                    proc.Kill true

                proc.WaitForExit 10000 |> ignore
            with _ ->
                ()

            reader.Wait 2000 |> ignore
            socket.Dispose()
            proc.Dispose()

            try
                profile.Delete true
            with _ ->
                ()

/// A tab of its own (a page target attached in flat mode) with script, console, log, page and network events on.
type Tab =
    {
        Browser: Chromium
        Session: string
        Target: string
    }

/// Protocol command parameters from name, value pairs.
let private args (pairs: (string * obj) list) =
    let o = JsonObject()

    for k, v in pairs do
        o[k] <- JsonSerializer.SerializeToNode(v, v.GetType())

    o

/// Sets the tab's window to `width` × `height` CSS pixels (one device pixel each).
let resize (tab: Tab) (width: int) (height: int) =
    tab.Browser.Send(
        tab.Session,
        "Emulation.setDeviceMetricsOverride",
        args
            [
                "width", box width
                "height", box height
                "deviceScaleFactor", box 1
                "mobile", box false
            ]
    )
    |> ignore

/// Opens a blank tab with a window of `width` × `height` CSS pixels.
let openTab (browser: Chromium) (width: int) (height: int) =
    let target =
        browser.Send("", "Target.createTarget", args [ "url", box "about:blank" ]).GetProperty("targetId").GetString()

    let session =
        browser.Send("", "Target.attachToTarget", args [ "targetId", box target; "flatten", box true ]).GetProperty("sessionId").GetString()

    for domain in [ "Runtime"; "Log"; "Page"; "Network" ] do
        browser.Send(session, $"{domain}.enable", JsonObject()) |> ignore

    let tab =
        {
            Browser = browser
            Session = session
            Target = target
        }

    resize tab width height
    tab

/// Closes a tab.
let closeTab (tab: Tab) =
    tab.Browser.Send("", "Target.closeTarget", args [ "targetId", box tab.Target ])
    |> ignore

/// Evaluates a script expression in the tab (awaiting it when it is a promise) and returns its value as JSON; a
/// script error is an exception with its message.
let evaluate (tab: Tab) (expression: string) : JsonElement =
    let r =
        tab.Browser.Send(
            tab.Session,
            "Runtime.evaluate",
            args
                [
                    "expression", box expression
                    "returnByValue", box true
                    "awaitPromise", box true
                ]
        )

    match r.TryGetProperty "exceptionDetails" with
    | true, e -> failwithf "script error evaluating %s: %s" expression (e.GetRawText())
    | _ ->
        match r.GetProperty("result").TryGetProperty "value" with
        | true, v -> v
        | _ -> JsonElement()

/// Loads `url` in the tab and waits for its load event. Returns the navigation error (e.g. net::ERR_FILE_NOT_FOUND)
/// when there is one.
let navigate (tab: Tab) (url: string) : string option =
    let before = tab.Browser.Events(tab.Session).Length
    let r = tab.Browser.Send(tab.Session, "Page.navigate", args [ "url", box url ])

    match r.TryGetProperty "errorText" with
    | true, e when e.GetString() <> "" -> Some(e.GetString())
    | _ ->
        let clock = Stopwatch.StartNew()

        let loaded () =
            tab.Browser.Events(tab.Session)
            |> List.skip before
            |> List.exists (fun (m, _) -> m = "Page.loadEventFired")

        while not (loaded ()) do
            if clock.Elapsed > timeout then
                failwithf "chromium: %s did not finish loading within %.0f s" url timeout.TotalSeconds

            Thread.Sleep 20

        None

let private text (e: JsonElement) (name: string) =
    match e.ValueKind with
    | JsonValueKind.Object ->
        match e.TryGetProperty name with
        | true, v when v.ValueKind = JsonValueKind.String -> v.GetString()
        | true, v when v.ValueKind <> JsonValueKind.Undefined -> v.GetRawText()
        | _ -> ""
    | _ -> ""

/// What went wrong in the tab so far, one line each: uncaught script errors (with their source line), console
/// errors, log errors (failed loads among them) and every request that was not for a local file.
let problems (tab: Tab) =
    [
        for m, p in tab.Browser.Events tab.Session do
            match m with
            | "Runtime.exceptionThrown" ->
                let d = p.GetProperty "exceptionDetails"

                let what =
                    match d.TryGetProperty "exception" with
                    | true, e when text e "description" <> "" -> text e "description"
                    | _ -> text d "text"

                let firstLine = what.Split('\n')[0]
                let url, line = text d "url", text d "lineNumber"
                yield $"uncaught script error: {firstLine} ({url}:{line})"
            | "Runtime.consoleAPICalled" when List.contains (text p "type") [ "error"; "assert" ] ->
                let kind = text p "type"

                let values =
                    [
                        for a in p.GetProperty("args").EnumerateArray() ->
                            match text a "value" with
                            | "" -> text a "description"
                            | v -> v
                    ]

                let joined = String.Join(" ", values)
                yield $"console.{kind}: {joined}"
            | "Log.entryAdded" when text (p.GetProperty "entry") "level" = "error" ->
                let e = p.GetProperty "entry"
                let source, message, url = text e "source", text e "text", text e "url"
                yield $"{source} error: {message} {url}".TrimEnd()
            | "Network.requestWillBeSent" ->
                let url = text (p.GetProperty "request") "url"

                match Uri.TryCreate(url, UriKind.Absolute) with
                | true, u when List.contains u.Scheme [ "file"; "data"; "blob"; "about" ] -> ()
                | _ -> yield $"network request (pages must work offline): {url}"
            | _ -> ()
    ]

/// Starts Chromium when it is installed and passes it to `f`; when `chromium` is not on PATH prints a notice
/// (apt-get install chromium) and returns None.
let withChromium (why: string) (f: Chromium -> 'a) : 'a option =
    match Plots.chromium () with
    | None ->
        eprintfn "note: %s skipped: chromium is not installed (apt-get install chromium)" why
        None
    | Some exe ->
        use browser = Chromium.Launch exe
        Some(f browser)

/// Waits until Plotly has drawn every plot of the page (or there is no Plotly, or 15 s passed), then a frame more.
let settle (tab: Tab) =
    evaluate
        tab
        """new Promise(done => {
             const start = Date.now();
             const ready = () => Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => p.querySelector('.main-svg'));
             const poll = () => {
               if (typeof Plotly === 'undefined' || ready() || Date.now() - start > 15000)
                 requestAnimationFrame(() => setTimeout(() => done(true), 50));
               else setTimeout(poll, 50);
             };
             poll();
           })"""
    |> ignore

/// A PNG of the whole page in the tab at its current width: the window grows to the page's height first.
let capture (tab: Tab) : byte array =
    let width = (evaluate tab "window.innerWidth").GetInt32()

    let height =
        (evaluate tab "Math.ceil(document.documentElement.scrollHeight)").GetInt32()

    resize tab width height

    tab.Browser
        .Send(tab.Session, "Page.captureScreenshot", args [ "format", box "png"; "captureBeyondViewport", box true ])
        .GetProperty("data")
        .GetString()
    |> Convert.FromBase64String
