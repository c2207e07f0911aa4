/// Full-page PNGs of local HTML pages (the main job's index page for the README) taken by headless Chromium,
/// offline, once Plotly has drawn the page's plots.
module Research.Experiments.Screenshot

open System
open System.IO
open Research.Model.Data
open Research.Experiments.Browser

/// A full-page PNG of a local HTML page: `width` CSS pixels wide (one pixel each), as tall as the page, with a palette
/// when that is smaller and the page has few colours (PngPalette.reduce), written atomically (temporary name, then rename). Returns false (with a notice) when chromium is not installed; a page
/// that does not load, or that reports a script error, a failed load or a network request, is an error naming it.
let page (width: int) (htmlPath: string) (pngPath: string) =
    let html = Path.GetFullPath htmlPath

    if not (File.Exists html) then
        raise (FileNotFoundException($"screenshot: no such HTML file {html}", html))

    withChromium $"screenshot of {html}" (fun browser ->
        let tab = openTab browser width 800

        try
            match navigate tab (Uri(html).AbsoluteUri) with
            | Some e -> failwithf "screenshot: %s did not load: %s" html e
            | None -> ()

            settle tab

            match problems tab with
            | [] -> ()
            | found -> failwithf "screenshot: %s reported:\n  %s" html (String.Join("\n  ", found))

            // a page of text and flat colour (at most 1024 colours): a palette PNG, about half the size
            let bytes = capture tab |> PngPalette.reduce 1024
            let target = Path.GetFullPath pngPath
            Directory.CreateDirectory(Path.GetDirectoryName target) |> ignore
            AtomicFile.Write(target, (fun stream -> stream.Write bytes))
        finally
            closeTab tab)
    |> Option.isSome

let usage =
    "usage: dotnet fsi scripts/screenshot.fsx -- --page PAGE.html --out PNG [--width 1280]\n"
    + "       A full-page PNG of a local HTML page (e.g. paper-tables/index.html) by headless Chromium, offline;\n"
    + "       --width in CSS pixels (default 1280: the index page's 1200-pixel column with a margin).\n"
    + "       (help: dotnet fsi scripts/screenshot.fsx -- --help)"

/// The script's entry point: parses the flags, takes the screenshot; exit code 1 when chromium is not installed.
let main (argv: string array) =
    let f = Cli.parse [ "page"; "out"; "width" ] argv

    let need (name: string) =
        match f.Values |> Map.tryFind name with
        | Some v -> v
        | None -> raise (Cli.UsageError $"--{name} is required")

    let width = f.Int("width", 1280)

    if width < 200 then
        raise (Cli.UsageError $"--width: at least 200 pixels, got {width}")

    let out = need "out"

    if page width (need "page") out then
        printfn "screenshot: %s (%d bytes)" (Path.GetFullPath out) (FileInfo(out).Length)
        0
    else
        1
