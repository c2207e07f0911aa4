/// The main job's index page as a reader's browser sees it, offline: every link on the index must lead to a file that
/// exists, every linked HTML page (a figure) must load without a script error, a failed load or a network request,
/// and Plotly must have drawn each of its plots (an SVG holding every trace). Runs in headless Chromium (Browser).
module Research.Experiments.SiteCheck

open System
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open Research.Experiments.Browser

/// One plot of a page as Chromium left it.
type Plot =
    {
        /// The page's file name.
        Page: string
        /// The plot's div id (from its Plotly.newPlot call).
        Id: string
        /// The plot's title (its layout's), or "" when it has none or was never drawn.
        Title: string
        /// Traces in its data, SVG roots Plotly made, and traces it drew.
        Traces: int
        Svgs: int
        Drawn: int
    }

/// What a check found.
type Report =
    {
        /// The pages loaded: the index, then every HTML page it links to.
        Pages: string list
        /// Links on the index.
        Links: int
        /// Every plot of every page.
        Plots: Plot list
        /// What is wrong, one line each, naming the page (and the figure): empty when all is well.
        Problems: string list
    }

/// The div ids of a page's plots, from its `Plotly.newPlot('id', ...)` calls (plotly.js inline holds none).
let plotIds (html: string) =
    Regex.Matches(html, """Plotly\.newPlot\(\s*['"]([\w-]+)['"]""")
    |> Seq.map (fun m -> m.Groups[1].Value)
    |> Seq.distinct
    |> List.ofSeq

// A plot's state: Plotly's SVG roots inside its div, its traces, and the traces drawn (cartesian traces are g.trace
// groups of a subplot's plot layer, heatmaps g.hm groups).
let private plotState (id: string) =
    $"""(() => {{
          const el = document.getElementById({JsonSerializer.Serialize id});
          if (!el) return {{ found: false }};
          const title = el.layout && el.layout.title ? (el.layout.title.text || el.layout.title) : '';
          return {{
            found: true,
            title: typeof title === 'string' ? title : '',
            traces: Array.isArray(el.data) ? el.data.length : 0,
            svgs: el.querySelectorAll('svg.main-svg').length,
            drawn: el.querySelectorAll('.cartesianlayer .plot .trace, .heatmaplayer .hm').length
          }};
        }})()"""

/// The links of the page in a tab: (href as written, absolute URL, link text).
let private linksOf (tab: Tab) =
    let all =
        evaluate tab "Array.from(document.querySelectorAll('a[href]'), a => [a.getAttribute('href'), a.href, a.textContent.trim()])"

    [
        for l in all.EnumerateArray() -> l[0].GetString(), l[1].GetString(), l[2].GetString()
    ]

/// Loads one page in a tab of its own and checks it: what went wrong while it loaded, and each plot. `figure` is
/// what the index calls the page, for the messages. Returns its plots, its problems and its links.
let private checkPage (browser: Chromium) (folder: string) (path: string) (figure: string) (mustHavePlots: bool) =
    let name = Path.GetRelativePath(folder, path)
    let tab = openTab browser 1200 900

    try
        match navigate tab (Uri(path).AbsoluteUri) with
        | Some e -> [], [ $"{name} ('{figure}'): did not load: {e}" ], []
        | None ->
            settle tab
            let ids = plotIds (File.ReadAllText path)

            let plots =
                [
                    for id in ids ->
                        let s = evaluate tab (plotState id)

                        let int (key: string) =
                            if s.TryGetProperty(key) |> fst then
                                s.GetProperty(key).GetInt32()
                            else
                                0

                        s.GetProperty("found").GetBoolean(),
                        {
                            Page = name
                            Id = id
                            Title =
                                (if s.TryGetProperty("title") |> fst then
                                     s.GetProperty("title").GetString()
                                 else
                                     "")
                            Traces = int "traces"
                            Svgs = int "svgs"
                            Drawn = int "drawn"
                        }
                ]

            let problems =
                [
                    for p in problems tab do
                        yield $"{name} ('{figure}'): {p}"

                    if mustHavePlots && ids.IsEmpty then
                        yield $"{name} ('{figure}'): no plot on the page (no Plotly.newPlot call)"

                    for found, p in plots do
                        if not found then
                            yield $"{name} ('{figure}'): plot {p.Id}: no element with that id"
                        elif p.Svgs = 0 || p.Traces = 0 || p.Drawn < p.Traces then
                            yield $"{name} ('{figure}'): plot {p.Id} not drawn: {p.Svgs} Plotly SVGs, {p.Drawn} of {p.Traces} traces drawn"
                ]

            List.map snd plots, problems, linksOf tab
    finally
        closeTab tab

/// Checks the index page `indexPath` and every page it links to, in `browser` (see the module's summary).
let check (browser: Chromium) (indexPath: string) : Report =
    let index = Path.GetFullPath indexPath
    let folder = Path.GetDirectoryName index
    let name = Path.GetFileName index

    if not (File.Exists index) then
        raise (FileNotFoundException($"site check: no such page {index}", index))

    let indexPlots, indexProblems, links =
        checkPage browser folder index "the index" false

    // every link: a local file that exists; the HTML ones are loaded below
    let targets =
        [
            for href, absolute, text in links ->
                match Uri.TryCreate(absolute, UriKind.Absolute) with
                | true, u when u.IsFile ->
                    let path = u.LocalPath

                    if File.Exists path then
                        Ok(path, text)
                    else
                        Error $"{name}: link '{text}' ({href}) leads to no file: {path} does not exist"
                | _ -> Error $"{name}: link '{text}' ({href}) is not a local file; the page must work offline"
        ]

    let pages =
        targets
        |> List.choose (function
            | Ok(path, text) when List.contains (Path.GetExtension(path).ToLowerInvariant()) [ ".html"; ".htm" ] -> Some(path, text)
            | _ -> None)
        |> List.distinctBy fst

    let checkedPages =
        [ for path, text in pages -> checkPage browser folder path text true ]

    {
        Pages = name :: [ for path, _ in pages -> Path.GetRelativePath(folder, path) ]
        Links = links.Length
        Plots = indexPlots @ List.collect (fun (plots, _, _) -> plots) checkedPages
        Problems =
            indexProblems
            @ [
                for t in targets do
                    match t with
                    | Error e -> e
                    | Ok _ -> ()
            ]
            @ List.collect (fun (_, problems, _) -> problems) checkedPages
    }
