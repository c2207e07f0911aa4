using System.Text.Json.Nodes;

namespace Research.Model.Training;

/// <summary>Where two JSON values differ, as dotted key paths (array elements as <c>[i]</c>) with both values.</summary>
internal static class JsonDiff
{
    /// <summary>One difference: the key path and the two values as compact JSON ("(absent)" for a missing key).</summary>
    public sealed record Difference(string Key, string Old, string New)
    {
        public override string ToString() => $"{Key} ({Old} → {New})";
    }

    public const string Absent = "(absent)";

    /// <summary>The differences between <paramref name="old"/> and <paramref name="new"/>, objects compared key by key in sorted order.</summary>
    public static IReadOnlyList<Difference> Compare(JsonNode? old, JsonNode? @new)
    {
        var found = new List<Difference>();
        Walk("", old, @new, found);
        return found;
    }

    static void Walk(string path, JsonNode? a, JsonNode? b, List<Difference> found)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            var keys = oa.Select(p => p.Key).Union(ob.Select(p => p.Key)).Order(System.StringComparer.Ordinal);
            foreach (string key in keys)
            {
                string child = path.Length == 0 ? key : $"{path}.{key}";
                bool inA = oa.TryGetPropertyValue(key, out var va);
                bool inB = ob.TryGetPropertyValue(key, out var vb);
                if (inA && inB)
                {
                    Walk(child, va, vb, found);
                }
                else
                {
                    found.Add(new Difference(child, inA ? Text(va) : Absent, inB ? Text(vb) : Absent));
                }
            }
        }
        else if (a is JsonArray xa && b is JsonArray xb && xa.Count == xb.Count)
        {
            for (int i = 0; i < xa.Count; i++)
            {
                Walk($"{path}[{i}]", xa[i], xb[i], found);
            }
        }
        else if (!JsonNode.DeepEquals(a, b))
        {
            found.Add(new Difference(path.Length == 0 ? "(the whole value)" : path, Text(a), Text(b)));
        }
    }

    static string Text(JsonNode? node)
    {
        string text = node?.ToJsonString() ?? "null";
        return text.Length <= 60 ? text : text[..57] + "...";
    }
}
