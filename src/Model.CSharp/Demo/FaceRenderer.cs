namespace Research.Model.Demo;

/// <summary>
/// Draws a demo face as a grey-level image (values in [0, 1], row-major, <c>size</c>×<c>size</c>): head, hair,
/// eyes, brows and mouth. The speaker's <see cref="FaceStyle"/> fixes the look; the mouth opens with the
/// audio envelope; the <see cref="Expression"/> bends the mouth and moves brows and eyes. Edges are
/// anti-aliased by 2×2 supersampling so small movements change pixel values smoothly.
/// </summary>
public static class FaceRenderer
{
    /// <summary>Renders one frame. <paramref name="mouthOpen"/> in [0, 1]; <paramref name="dx"/>, <paramref name="dy"/> shift the head (fractions of the image).</summary>
    public static float[] Render(int size, FaceStyle face, Expression e, float mouthOpen, float dx = 0, float dy = 0)
    {
        var image = new float[size * size];
        const int ss = 2;
        for (int row = 0; row < size; row++)
        {
            for (int col = 0; col < size; col++)
            {
                float acc = 0;
                for (int sy = 0; sy < ss; sy++)
                {
                    for (int sx = 0; sx < ss; sx++)
                    {
                        float x = (col + (sx + 0.5f) / ss) / size - dx;
                        float y = (row + (sy + 0.5f) / ss) / size - dy;
                        acc += Shade(x, y, face, e, Math.Clamp(mouthOpen, 0f, 1f));
                    }
                }
                image[row * size + col] = acc / (ss * ss);
            }
        }
        return image;
    }

    static float Shade(float x, float y, FaceStyle f, Expression e, float open)
    {
        const float cx = 0.5f,
            cy = 0.54f;
        float rx = 0.3f * f.Width,
            ry = 0.38f * f.Height;
        float hx = (x - cx) / rx,
            hy = (y - cy) / ry;
        bool head = hx * hx + hy * hy <= 1;
        if (!head)
        {
            // Hair: a cap above the forehead.
            float capy = (y - (cy - 0.1f)) / (ry * 1.02f);
            return hx * hx + capy * capy <= 1 && y < cy - 0.12f ? f.Hair : f.Background;
        }
        if (y < cy - 0.7f * ry)
        {
            return f.Hair;
        }
        // Eyes.
        float eyeY = cy - 0.12f;
        float eyeRy = 0.012f + 0.03f * e.EyeOpen;
        foreach (float side in new[] { -1f, 1f })
        {
            float ex = (x - (cx + side * f.EyeGap)) / 0.045f,
                ey = (y - eyeY) / eyeRy;
            if (ex * ex + ey * ey <= 1)
            {
                return 0.05f;
            }
            // Brows: a short thick segment above each eye, raised and tilted by the expression.
            float u = (x - (cx + side * f.EyeGap)) / 0.06f; // -1 .. 1 along the brow, inner end towards the centre
            if (Math.Abs(u) <= 1)
            {
                float inner = -side * u; // +1 at the inner end
                float browY = eyeY - 0.075f - 0.04f * e.BrowRaise - 0.03f * e.BrowTilt * inner;
                if (Math.Abs(y - browY) <= 0.012f)
                {
                    return 0.12f;
                }
            }
        }
        // Mouth: the dark gap between two lip curves; corners up for a smile, down for a frown.
        float mouthY = cy + 0.18f;
        float mw = f.MouthWidth;
        float mu = (x - cx) / mw;
        if (Math.Abs(mu) <= 1)
        {
            float bend = -0.05f * e.Smile * mu * mu; // corners move up (smaller y) when smiling
            float gap = 0.004f + 0.06f * open + 0.04f * e.JawDrop;
            float centre = mouthY + bend;
            float half = gap * (1 - mu * mu) / 2 + 0.006f;
            if (Math.Abs(y - centre) <= half)
            {
                return 0.1f + 0.15f * (1 - open);
            }
        }
        // Nose: a faint vertical shade.
        if (Math.Abs(x - cx) < 0.012f && y > eyeY + 0.02f && y < mouthY - 0.06f)
        {
            return f.Skin * 0.8f;
        }
        return f.Skin;
    }
}
