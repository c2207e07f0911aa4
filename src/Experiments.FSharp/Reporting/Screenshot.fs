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
