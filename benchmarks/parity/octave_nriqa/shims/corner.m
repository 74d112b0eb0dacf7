function pts = corner(img, method, maxn, varargin)
% Stand-in for MATLAB's corner() (absent from Octave's image package),
% following the algorithm MATLAB documents for 'MinimumEigenvalue':
% gradients by [-1 0 1] (replicate), valid part only; A = Ix^2, B = Iy^2,
% C = IxIy smoothed by the outer product of 'FilterCoefficients'
% (replicate, full, convolution) and trimmed back; metric = smaller
% eigenvalue; peaks = 8-connected regional maxima >= QualityLevel * max,
% shrunk to points (bwmorph shrink), border excluded; [x y] rows.
% Written for the videojury parity harness; only what PSS.m uses.
coef = fspecial('gaussian', [5 1], 1.5);
quality = 0.01;
for k = 1:2:numel(varargin)
  switch lower(varargin{k})
    case 'filtercoefficients', coef = varargin{k + 1};
    case 'qualitylevel', quality = varargin{k + 1};
  end
end
I = im2double(img);
coef = coef(:);
w = coef * coef';
gx = imfilter(I, [-1 0 1], 'replicate', 'same', 'conv');
gy = imfilter(I, [-1 0 1]', 'replicate', 'same', 'conv');
gx = gx(2:end-1, 2:end-1);
gy = gy(2:end-1, 2:end-1);
% MATLAB's imfilter(..., 'replicate', 'full', 'conv') pads by the filter
% size minus one; Octave's pads by half of it and zero-fills the rest, so
% the outer ring would differ: pad explicitly and take the valid part.
r = numel(coef) - 1;
A = conv2(padarray(gx .* gx, [r r], 'replicate'), w, 'valid');
B = conv2(padarray(gy .* gy, [r r], 'replicate'), w, 'valid');
C = conv2(padarray(gx .* gy, [r r], 'replicate'), w, 'valid');
cut = max(0, (numel(coef) - 1) / 2 - 1);
A = A(cut+1:end-cut, cut+1:end-cut);
B = B(cut+1:end-cut, cut+1:end-cut);
C = C(cut+1:end-cut, cut+1:end-cut);
metric = ((A + B) - sqrt((A - B) .^ 2 + 4 * C .^ 2)) / 2;
top = max(metric(:));
if top <= 0
  pts = zeros(0, 2);
  return
end
bw = imregionalmax(metric, 8);
bw(metric < quality * top) = 0;
bw = bwmorph(bw, 'shrink', Inf);
bw([1 end], :) = 0;
bw(:, [1 end]) = 0;
idx = find(bw);
[r, c] = ind2sub(size(metric), idx);
pts = [c r];
if size(pts, 1) > maxn
  [~, order] = sort(metric(idx), 'descend');
  pts = pts(order(1:maxn), :);
end
end
