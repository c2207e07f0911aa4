/// Charts as self-contained HTML (Plotly.NET, plotly.js embedded inline, so files open offline) and, when Debian's
/// `chromium` is installed, PNG copies made by headless Chromium. A plain module of functions: each chart function
/// returns a GenericChart built from plain arrays, `save` writes any chart, `png` renders a saved file.
module Research.Experiments.Plots

open System
open System.Diagnostics
open System.IO
open Plotly.NET
open Plotly.NET.LayoutObjects
open Research.Model.Data

/// The chart with plotly.js inlined (~3.5 MB per file): the HTML needs no network to open.
let offline (chart: GenericChart) =
    chart
    |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.Full)

/// The self-contained HTML document of a chart.
let html (chart: GenericChart) =
    chart |> offline |> GenericChart.toEmbeddedHTML

/// How a written chart gets plotly.js: inlined in every file (each opens alone, ~3.5 MB each), or one shared copy,
/// `plotly.min.js`, beside the files (what the committed paper-tables/ uses to stay small).
type PlotlyMode =
    | Inline
    | Shared

/// The file name of the shared plotly.js copy.
let sharedPlotlyFile = "plotly.min.js"

/// plotly.js as Plotly.NET ships it (the copy it inlines): the resource's name and bytes.
let shippedPlotly () =
    let assembly = typeof<GenericChart>.Assembly

    let name =
        assembly.GetManifestResourceNames()
        |> Array.find (fun n -> n.EndsWith ".min.js" && n.Contains "plotly-")

    use stream = assembly.GetManifestResourceStream name
    use copy = new MemoryStream()
    stream.CopyTo copy
    name, copy.ToArray()

/// Writes a chart's HTML atomically (temporary name, then rename); creates the folder. Inline: plotly.js embedded.
/// Shared: the page loads `plotly.min.js` from its own folder, written there (Plotly.NET's copy) when absent or
/// different.
let saveAs (mode: PlotlyMode) (chart: GenericChart) (path: string) =
    let full = Path.GetFullPath path
    let folder = Path.GetDirectoryName full
    Directory.CreateDirectory folder |> ignore

    let text =
        match mode with
        | Inline -> html chart
        | Shared ->
            let _, js = shippedPlotly ()
            let shared = Path.Combine(folder, sharedPlotlyFile)

            if not (File.Exists shared) || File.ReadAllBytes shared <> js then
                AtomicFile.Write(shared, (fun stream -> stream.Write js))

            chart
            |> Chart.withDisplayOptionsStyle (PlotlyJSReference = PlotlyJSReference.CDN sharedPlotlyFile)
            |> GenericChart.toEmbeddedHTML

    AtomicFile.Write(full, (fun stream -> stream.Write(Text.Encoding.UTF8.GetBytes text)))

/// Writes a chart as one HTML file with plotly.js embedded inline (see saveAs).
let save (chart: GenericChart) (path: string) = saveAs Inline chart path

/// The first of `chromium`, `chromium-browser` on PATH, if any.
let chromium () =
    let folders =
        (Environment.GetEnvironmentVariable "PATH"
         |> Option.ofObj
         |> Option.defaultValue "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)

    [ "chromium"; "chromium-browser" ]
    |> List.tryPick (fun name ->
        folders
        |> Array.map (fun d -> Path.Combine(d, name))
        |> Array.tryFind File.Exists)

/// Renders a saved HTML chart to PNG with headless Chromium (window `width` × `height`). Returns true when the PNG
/// was written; when `chromium` is not on PATH prints a notice (apt-get install chromium) and returns false.
/// The PNG is written under a temporary name and renamed; a Chromium failure is an error with its output.
let pngSized (width: int) (height: int) (htmlPath: string) (pngPath: string) =
    match chromium () with
    | None ->
        eprintfn "note: no PNG for %s: chromium is not installed (apt-get install chromium); the HTML opens in any browser" htmlPath

        false
    | Some exe ->
        let html = Path.GetFullPath htmlPath

        if not (File.Exists html) then
            raise (FileNotFoundException($"png: no such HTML file {html}", html))

        let target = Path.GetFullPath pngPath
        Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore

        let temp =
            Path.Combine(Path.GetDirectoryName target, $".{Path.GetFileNameWithoutExtension target}.{Guid.NewGuid():N}.png")

        let profile = Directory.CreateTempSubdirectory "research-chromium-"

        let args =
            [
                "--headless"
                "--no-sandbox"
                "--disable-gpu"
                "--hide-scrollbars"
                "--no-first-run"
                $"--user-data-dir={profile.FullName}"
                $"--window-size={width},{height}"
                // plotly draws after the page loads; virtual time lets it finish before the screenshot
                "--virtual-time-budget=10000"
                $"--screenshot={temp}"
                Uri(html).AbsoluteUri
            ]

        try
            let info =
                ProcessStartInfo(exe, args, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)

            use p = Process.Start info
            let out = p.StandardOutput.ReadToEndAsync()
            let err = p.StandardError.ReadToEndAsync()

            if not (p.WaitForExit 120000) then
                p.Kill true
                failwithf "png: chromium did not finish within 120 s rendering %s" html

            if p.ExitCode <> 0 || not (File.Exists temp) then
                failwithf "png: chromium failed (exit code %d) rendering %s: %s%s" p.ExitCode html out.Result err.Result

            File.Move(temp, target, true)
            true
        finally
            File.Delete temp

            try
                profile.Delete true
            with _ ->
                ()

/// Renders a saved HTML chart to PNG (1000 × 520: a chart of plotly's default height) with headless Chromium; see
/// `pngSized`.
let png (htmlPath: string) (pngPath: string) = pngSized 1000 520 htmlPath pngPath

/// Tick positions and labels for an axis of n cells: every label when they fit, else about `most` of them.
let private ticks (most: int) (labels: string array) =
    let step = max 1 ((labels.Length + most - 1) / most)

    [| 0..step .. labels.Length - 1 |], [| for i in 0..step .. labels.Length - 1 -> labels[i] |]

/// Heatmap of one cross-modal attention map: rows = audio steps (queries, top to bottom), columns = video frames or
/// words (keys); `weights[i, j]` = how much audio step i attends to source step j. `columnLabels` (e.g. the words)
/// become the column tick labels when given (one per column; repeated words stay separate columns).
let attentionMap (title: string) (sourceName: string) (columnLabels: string array option) (weights: float[,]) =
    let rows = weights.GetLength 0
    let cols = weights.GetLength 1

    match columnLabels with
    | Some labels when labels.Length <> cols -> invalidArg "columnLabels" $"{labels.Length} column labels for a map with {cols} columns"
    | _ -> ()

    let z =
        [| for i in 0 .. rows - 1 -> [| for j in 0 .. cols - 1 -> weights[i, j] |] |]

    let hover =
        [|
            for i in 0 .. rows - 1 ->
                [|
                    for j in 0 .. cols - 1 ->
                        let key =
                            match columnLabels with
                            | Some l -> $"{sourceName} {j} '{l[j]}'"
                            | None -> $"{sourceName} {j}"

                        $"audio step {i}, {key}: {weights[i, j]:F4}"
                |]
        |]

    let xAxis =
        match columnLabels with
        | Some labels ->
            let values, text = ticks 60 labels

            LinearAxis.init (
                Title = Title.init sourceName,
                TickMode = StyleParam.TickMode.Array,
                TickVals = values,
                TickText = text,
                TickAngle = -60
            )
        | None -> LinearAxis.init (Title = Title.init sourceName)

    Chart.Heatmap(
        zData = z,
        X = [| 0 .. cols - 1 |],
        Y = [| 0 .. rows - 1 |],
        ColorScale = StyleParam.Colorscale.Viridis,
        ReverseYAxis = true,
        UseDefaults = false
    )
    |> GenericChart.mapTrace (fun t ->
        // per-cell hover text: the heatmap's `text` is a matrix like z
        t.SetProperty("text", hover)
        t.SetProperty("hoverinfo", "text")
        t)
    |> Chart.withXAxis xAxis
    |> Chart.withYAxisStyle (TitleText = "audio step")
    |> Chart.withTitle title

/// Colours of the categories of a scatter plot: a fixed qualitative palette, repeated when there are more.
let palette =
    [|
        "#1f77b4"
        "#ff7f0e"
        "#2ca02c"
        "#d62728"
        "#9467bd"
        "#8c564b"
        "#e377c2"
        "#7f7f7f"
        "#bcbd22"
        "#17becf"
    |]

/// 2-D scatter of points coloured by category: one trace per category (in order of first appearance, so the
/// legend lists them and toggles them), `hover.[i]` shown on point i.
let scatter2d
    (title: string)
    (axisNames: string * string)
    (points: (float * float) array)
    (categories: string array)
    (hover: string array)
    =
    if categories.Length <> points.Length || hover.Length <> points.Length then
        invalidArg "categories" $"{points.Length} points, {categories.Length} categories and {hover.Length} hover texts must match"

    let order = categories |> Array.distinct

    let traces =
        order
        |> Array.mapi (fun k category ->
            let idx =
                [| 0 .. points.Length - 1 |] |> Array.filter (fun i -> categories[i] = category)

            Chart.Point(
                x = [| for i in idx -> fst points[i] |],
                y = [| for i in idx -> snd points[i] |],
                Name = category,
                MultiText = [| for i in idx -> hover[i] |],
                MarkerColor = Color.fromString palette[k % palette.Length],
                UseDefaults = false
            )
            |> GenericChart.mapTrace (fun t ->
                t.SetProperty("hoverinfo", "text+name")
                t))

    Chart.combine traces
    |> Chart.withXAxisStyle (TitleText = fst axisNames)
    |> Chart.withYAxisStyle (TitleText = snd axisNames)
    |> Chart.withTitle title
