function out = jp2_roundtrip(img, name, ratio)
% Stand-in for MATLAB's imwrite(img, name, 'compressionratio', ratio) then
% imread(name): Octave cannot write JPEG 2000, so OpenJPEG's command-line
% tools encode (lossy 9/7 wavelet, 6 resolutions as MATLAB's defaults,
% target compression ratio) and decode. Written for the videojury harness.
src = [name '.ppm'];
if size(img, 3) == 1
  src = [name '.pgm'];
end
imwrite(img, src);
status = system(sprintf('opj_compress -i %s -o %s -r %g -I -n 6 > /dev/null 2>&1', src, name, ratio));
if status ~= 0
  error('opj_compress failed on %s', src);
end
dec = [name '.dec' src(end-3:end)];
status = system(sprintf('opj_decompress -i %s -o %s > /dev/null 2>&1', name, dec));
if status ~= 0
  error('opj_decompress failed on %s', name);
end
out = imread(dec);
delete(src); delete(dec); delete(name);
end
