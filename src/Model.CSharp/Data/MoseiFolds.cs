using System.Text.Json;

namespace Research.Model.Data;

/// <summary>The three standard CMU-MOSEI folds.</summary>
public enum MoseiFold
{
    /// <summary>Training (2,249 videos in the standard folds).</summary>
    Train,

    /// <summary>Validation (300 videos).</summary>
    Valid,

    /// <summary>Test (678 videos).</summary>
    Test,
}

/// <summary>
/// Video ids per fold, from a JSON file <c>{"train": [...], "valid": [...], "test": [...]}</c>. A video in two folds,
/// or twice in one, is an error naming it.
/// </summary>
public sealed class MoseiFolds
{
    static readonly string[] Keys = ["train", "valid", "test"];
    readonly Dictionary<string, MoseiFold> foldOf;

    /// <summary>The ids of each fold, in the order given.</summary>
    public IReadOnlyDictionary<MoseiFold, IReadOnlyList<string>> Videos { get; }

    /// <summary>Folds from lists of ids; throws naming a video listed twice.</summary>
    public MoseiFolds(IEnumerable<string> train, IEnumerable<string> valid, IEnumerable<string> test, string source = "folds")
    {
        foldOf = new Dictionary<string, MoseiFold>(StringComparer.Ordinal);
        var videos = new Dictionary<MoseiFold, IReadOnlyList<string>>();
        foreach (var (fold, ids) in new[] { (MoseiFold.Train, train), (MoseiFold.Valid, valid), (MoseiFold.Test, test) })
        {
            var list = ids.ToList();
            foreach (string id in list)
            {
                if (!foldOf.TryAdd(id, fold))
                {
                    throw new InvalidDataException($"{source}: video '{id}' is listed in {Name(foldOf[id])} and again in {Name(fold)}");
                }
            }
            videos[fold] = list;
        }
        Videos = videos;
    }

    /// <summary>Reads a folds JSON file; throws naming the file and key when it is not three arrays of strings.</summary>
    public static MoseiFolds Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such folds file", path);
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var top = document.RootElement;
            if (top.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: expected an object {{\"train\": [...], \"valid\": [...], \"test\": [...]}}");
            }
            var extra = top.EnumerateObject().Select(p => p.Name).Where(n => !Keys.Contains(n)).ToList();
            if (extra.Count > 0)
            {
                throw new InvalidDataException($"{path}: unknown key(s) {string.Join(", ", extra)}; expected train, valid, test");
            }
            var lists = Keys.Select(key => Ids(top, key, path)).ToArray();
            return new MoseiFolds(lists[0], lists[1], lists[2], path);
        }
    }

    /// <summary>The fold of <paramref name="videoId"/>, or null when it is in none.</summary>
    public MoseiFold? FoldOf(string videoId) => foldOf.TryGetValue(videoId, out var fold) ? fold : null;

    /// <summary>The JSON name of a fold: train, valid, test.</summary>
    public static string Name(MoseiFold fold) => Keys[(int)fold];

    static List<string> Ids(JsonElement top, string key, string path)
    {
        if (!top.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{path}: \"{key}\" must be an array of video ids");
        }
        var ids = new List<string>();
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(item.GetString()))
            {
                throw new InvalidDataException($"{path}: \"{key}\"[{i}] must be a non-empty string, got {item.GetRawText()}");
            }
            ids.Add(item.GetString()!);
            i++;
        }
        return ids;
    }
}
