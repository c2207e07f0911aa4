using System.Text;

namespace Research.Model.Data;

/// <summary>
/// Writes a folder so that readers see the old one or the complete new one, never a half-written one: the new
/// folder is built in a sibling, then renamed into place. Replacing an existing folder takes two renames (old
/// aside, new in); a crash between them leaves the old folder under its aside name.
/// </summary>
internal static class AtomicFolder
{
    /// <summary>Builds a folder with <paramref name="build"/> (given an empty temporary sibling) and puts it in place of <paramref name="target"/>.</summary>
    public static void Write(string target, Action<string> build)
    {
        string full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
        {
            throw new IOException($"{full} is a file; expected a folder (or nothing) there");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.tmp-{Guid.NewGuid():N}";
        Directory.CreateDirectory(temp);
        try
        {
            build(temp);
            Swap(temp, full, $"{full}.old-{Guid.NewGuid():N}");
        }
        catch
        {
            DeleteIfExists(temp);
            throw;
        }
    }

    /// <summary>Moves <paramref name="source"/> to <paramref name="target"/>, moving an existing target to <paramref name="aside"/> first and deleting it after.</summary>
    public static void Swap(string source, string target, string aside)
    {
        if (Directory.Exists(target))
        {
            Directory.Move(target, aside);
            Directory.Move(source, target);
            Directory.Delete(aside, true);
        }
        else
        {
            Directory.Move(source, target);
        }
    }

    /// <summary>Deletes a folder and its contents when it exists.</summary>
    public static void DeleteIfExists(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, true);
        }
    }

    /// <summary>Writes a text file as UTF-8 without a byte-order mark, '\n' line ends as given.</summary>
    public static void WriteText(string path, string text) => File.WriteAllText(path, text, new UTF8Encoding(false));
}
